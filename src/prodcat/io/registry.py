"""Registered versions of the model in the MLflow Model Registry, and their aliases."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from prodcat.core.errors import UserError
from prodcat.io.redact import redact_uri

logger = logging.getLogger(__name__)

FINGERPRINT_TAG = "model_sha256"
LINEAGE_LOCK_ARTIFACT = "lineage/dvc.lock"  # the build's dvc.lock, logged by export


def find_version(client: MlflowClient, name: str, fingerprint: str) -> ModelVersion | None:
    """The version already registered for these exact weights, if any."""
    found = client.search_model_versions(
        f"name = '{name}' and tags.{FINGERPRINT_TAG} = '{fingerprint}'"
    )
    return min(found, key=lambda version: int(version.version)) if found else None


def register_once(
    client: MlflowClient,
    name: str,
    fingerprint: str,
    log_and_register: Callable[[], str],
    tags: Mapping[str, str],
    alias: str,
) -> tuple[ModelVersion, bool]:
    """Register the model unless these weights already are, and point ``alias`` at the version.

    Returns the version and whether it is new. Rerunning export (``dvc repro -f``, or retraining
    to identical weights) reuses the version, whose tags still name the run that first logged it.
    """
    existing = find_version(client, name, fingerprint)
    if existing is None:
        version = log_and_register()
        for key, value in {**tags, FINGERPRINT_TAG: fingerprint}.items():
            client.set_model_version_tag(name, version, key, value)
    else:
        version = existing.version
    client.set_registered_model_alias(name, alias, version)
    return client.get_model_version(name, version), existing is None


# Tags a promotion or rollback leaves on the version that became champion.
PREVIOUS_CHAMPION_TAG = "champion.previous"


MISSING = "RESOURCE_DOES_NOT_EXIST"


def alias_holder(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version holding ``alias``, or None if the model or the alias does not exist.

    Read from the registered model's alias map: MLflow reports a missing alias with the same
    code as a malformed request, so only "no such model" may mean "none". Any other failure
    (an unreachable server, a locked store) propagates, to be named for what it is.
    """
    try:
        aliases = client.get_registered_model(name).aliases
    except MlflowException as error:
        if error.error_code == MISSING:
            return None
        raise
    if alias not in aliases:
        return None
    return get_version(client, name, str(aliases[alias]))


def get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    """The version, or a :class:`UserError` if the store says it does not exist."""
    try:
        return client.get_model_version(name, version)
    except MlflowException as error:
        if error.error_code != MISSING:
            raise
        raise UserError(f"registered model '{name}' has no version {version}") from error


def list_versions(client: MlflowClient, name: str) -> list[tuple[ModelVersion, list[str]]]:
    """Every version of ``name``, newest first, with its aliases (search results lack them)."""
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        return []
    aliases = client.get_registered_model(name).aliases
    return [
        (
            version,
            sorted(alias for alias, held in aliases.items() if str(held) == str(version.version)),
        )
        for version in sorted(versions, key=lambda version: int(version.version), reverse=True)
    ]


def recorded_scores(version: ModelVersion, prefix: str = "test_") -> dict[str, float]:
    """The test metrics export recorded on the version (``test_accuracy`` → ``accuracy``);
    with ``prefix="baseline."``, the baseline's from the same run."""
    scores = {}
    for key, value in version.tags.items():
        if key.startswith(prefix) and key != "test_data.md5":
            try:
                scores[key.removeprefix(prefix)] = float(value)
            except ValueError:
                continue  # e.g. baseline.slices, a table
    return scores


# A version's label set: its digest always, the list itself when short enough for any store's
# tag column; the full list is always the model's own labels.json artifact.
LABELS_DIGEST_TAG = "labels.sha256"
LABELS_COUNT_TAG = "labels.count"
LABELS_TAG = "labels"
MAX_LABELS_TAG_CHARS = 5000


def label_tags(labels: list[str]) -> dict[str, str]:
    from prodcat.core.promotion import label_set_digest

    listed = json.dumps(sorted(labels), ensure_ascii=False)
    tags = {LABELS_DIGEST_TAG: label_set_digest(labels), LABELS_COUNT_TAG: str(len(labels))}
    return tags | ({LABELS_TAG: listed} if len(listed) <= MAX_LABELS_TAG_CHARS else {})


def label_set(name: str, version: ModelVersion) -> list[str]:
    """The labels a version predicts: from its tag, else from the model's labels.json."""
    if LABELS_TAG in version.tags:
        return list(json.loads(version.tags[LABELS_TAG]))
    import mlflow

    from prodcat.serving.pyfunc import ARTIFACT_LABELS

    uri = f"models:/{name}/{version.version}"
    flavor = mlflow.models.Model.load(uri).flavors.get("python_function", {})
    artifact = flavor.get("artifacts", {}).get(ARTIFACT_LABELS, {}).get("path")
    if not artifact:
        raise UserError(f"{name} v{version.version} records no label set; re-export it")
    local = mlflow.artifacts.download_artifacts(f"{uri}/{artifact}")
    return list(json.loads(Path(local).read_text(encoding="utf-8")))


def labels_differ(name: str, candidate: ModelVersion, champion: ModelVersion) -> str | None:
    """Why the two versions' scores do not compare (different labels), or None."""
    from prodcat.core.promotion import Contender, label_difference

    ours, theirs = candidate.tags.get(LABELS_DIGEST_TAG), champion.tags.get(LABELS_DIGEST_TAG)
    if ours and theirs and ours == theirs:
        return None
    return label_difference(
        Contender(str(candidate.version), {}, ""),
        label_set(name, candidate),
        Contender(str(champion.version), {}, ""),
        label_set(name, champion),
    )


def move_alias(
    client: MlflowClient, name: str, alias: str, version: str, record: Mapping[str, str]
) -> None:
    """Record why on the version first, then move the alias: the tags never lag the alias."""
    for key, value in record.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, alias, version)


def lock_dir(tracking_uri: str) -> Path:
    """Where the promotion lock lives: beside a local SQLite store, else the current directory.

    Beside the store, every checkout and shell using that store shares the lock. For a remote
    tracking server (``http://...``) a file lock only serialises commands run from this
    directory on this machine: promotions from other machines are not serialised.
    """
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///").split("?")[0]).resolve().parent
    logger.debug(
        "%s is not a local SQLite store: the promotion lock is per machine",
        redact_uri(tracking_uri),
    )
    return Path.cwd()


@contextmanager
def registry_lock(store_root: Path, timeout_seconds: float = 120) -> Iterator[None]:
    """Serialise promotions on this machine, so two racing commands cannot interleave.

    Callers read the aliases, decide and write inside the lock, so the second of two racing
    commands sees the first one's champion, never a stale one.
    """
    lock = FileLock(store_root / ".prodcat-registry.lock", timeout=timeout_seconds)
    try:
        with lock:
            yield
    except Timeout as error:
        raise UserError(
            f"another promotion holds {lock.lock_file} for over {timeout_seconds:.0f} s; retry"
        ) from error


def rescore_version(
    name: str, version: str, texts: list[str], labels: list[str]
) -> dict[str, float]:
    """Score a registered version on the given test split (when recorded scores can't compare)."""
    import mlflow
    import pandas as pd

    from prodcat.core.metrics import label_scores
    from prodcat.serving.requests import MAX_TEXTS_PER_REQUEST, TEXT_FIELD

    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    predicted: list[str] = []
    for start in range(0, len(texts), MAX_TEXTS_PER_REQUEST):
        chunk = pd.DataFrame({TEXT_FIELD: texts[start : start + MAX_TEXTS_PER_REQUEST]})
        predicted.extend(model.predict(chunk)["category"].tolist())
    return label_scores(labels, predicted)


@dataclass(frozen=True)
class Lineage:
    """Everything needed to trace a registered version back to its inputs and rebuild it."""

    name: str
    version: str
    run_id: str
    git_commit: str
    data_path: str
    data_md5: str
    test_data_md5: str
    params: dict[str, str]
    metrics: dict[str, float]
    dvc_lock: str

    @property
    def rebuild_command(self) -> str:
        commit = self.git_commit.removesuffix("-dirty")
        return f"git checkout {commit} && dvc repro -f && dvc metrics show"


def lineage(client: MlflowClient, name: str, version: str) -> Lineage:
    import mlflow

    model_version = get_version(client, name, version)
    run = client.get_run(model_version.run_id)
    try:
        lock = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/{LINEAGE_LOCK_ARTIFACT}")
    except MlflowException:
        lock = ""
    tags = model_version.tags
    return Lineage(
        name=name,
        version=str(model_version.version),
        run_id=run.info.run_id,
        git_commit=tags.get("git_commit", "unknown"),
        data_path=tags.get("data.path", "unknown"),
        data_md5=tags.get("data.md5", "unknown"),
        test_data_md5=tags.get("test_data.md5", "unknown"),
        params=dict(sorted(run.data.params.items())),
        metrics=recorded_scores(model_version),
        dvc_lock=lock,
    )


def finished_stages_lock(lock_text: str, running: str = "export") -> str:
    """``dvc.lock`` without the entry of the stage still running: DVC rewrites that entry only
    when the stage ends, so during export it still names the previous model's hashes."""
    import yaml

    lock = yaml.safe_load(lock_text) or {}
    lock.get("stages", {}).pop(running, None)
    return yaml.safe_dump(lock, sort_keys=False)


def version_tags(
    run: Any,
    data_report: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    test_md5: str,
    labels: list[str] | None = None,
) -> dict[str, str]:
    """What a registered version records about itself: lineage, test scores beside the
    baseline's, the label set it predicts, and the temperature and review threshold its
    probabilities and ``needs_review`` come from."""
    import json

    scores = {key: value for key, value in evaluation.items() if _is_number(value)}
    calibration = evaluation.get("calibration", {})
    triage = {
        tag: str(calibration[key])
        for tag, key in (
            ("calibration.temperature", "temperature"),
            ("review.threshold", "threshold"),
        )
        if key in calibration
    }
    return {
        **triage,
        "git_commit": run.data.tags.get("git_commit", "unknown"),
        "run_id": run.info.run_id,
        "data.path": data_report["source"]["path"],
        "data.md5": data_report["source"]["md5"],
        "test_data.md5": test_md5,
        "params": json.dumps(run.data.params, sort_keys=True),
        **{f"test_{key}": str(value) for key, value in scores.items()},
        **{f"baseline.{key}": str(value) for key, value in evaluation["baseline"].items()},
        **(label_tags(labels) if labels is not None else {}),
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def register_export(
    config: Any, facts: Any, arguments: Mapping[str, Any], register: bool | None = None
) -> dict[str, Any]:
    """Log the exported model to its training run and register it, pointing ``export.alias`` at
    the version. ``register`` None: register outside ``dvc exp run``, and inside it only with
    ``export.register_experiments``.

    Returns what ``models/registered.json`` records. The registry's copy of the model card
    names the git commit that trained the model; the workspace copy does not, so a later
    commit never makes it stale.
    """
    import dataclasses

    import mlflow

    from prodcat.core.model_card import render_model_card
    from prodcat.core.text import read_labels
    from prodcat.io import layout
    from prodcat.io.files import file_md5, read_json
    from prodcat.io.tracking import dvc_experiment, resumed_run

    client = MlflowClient()
    experiment = dvc_experiment()
    if register is None:
        register = experiment is None or config.register_experiments
    with resumed_run(facts.run_id) as active:
        if Path("dvc.lock").is_file():  # the hashes of the stages that built this model
            lock = finished_stages_lock(Path("dvc.lock").read_text(encoding="utf-8"))
            mlflow.log_text(lock, LINEAGE_LOCK_ARTIFACT)
        run = client.get_run(active.info.run_id)
        if not register:
            info = mlflow.pyfunc.log_model(name="model", **arguments)
            mlflow.set_tag("registered_model_version", "none (a DVC experiment)")
            return {
                "registered": False,
                "model_uri": info.model_uri,
                "run_id": run.info.run_id,
                "model_sha256": facts.model_sha256,
                "summary": f"DVC experiment {experiment}: logged {info.model_uri}, not "
                "registered (`prodcat register` registers it once applied)",
            }
        tags = version_tags(
            run,
            read_json(layout.DATA_REPORT),
            facts.metrics,
            file_md5(layout.split_texts("test")),
            read_labels(layout.LABELS),
        )
        if experiment:
            tags["dvc.experiment"] = experiment
        card = render_model_card(dataclasses.replace(facts, git_commit=tags["git_commit"]))

        def log_and_register() -> str:
            info = mlflow.pyfunc.log_model(
                name="model", registered_model_name=config.registered_model_name, **arguments
            )
            return str(info.registered_model_version)

        version, created = register_once(
            client,
            config.registered_model_name,
            facts.model_sha256,
            log_and_register,
            tags,
            config.alias,
        )
        # The UI shows the description on the version's page: the card, readable there.
        client.update_model_version(version.name, version.version, description=card)
        model_uri = f"models:/{version.name}/{version.version}"
        mlflow.set_tag("registered_model_version", model_uri)
    state = "registered" if created else "already registered as"
    return {
        "registered": True,
        "name": version.name,
        "version": version.version,
        "alias": config.alias,
        "model_uri": model_uri,
        "run_id": version.run_id,
        "model_sha256": facts.model_sha256,
        "summary": f"{state} {model_uri} (alias {config.alias})",
    }


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` decided and why: the table, the verdict and whether the alias moved."""

    candidate: Any  # promotion.Contender
    champion: Any | None
    decision: Any  # promotion.Decision
    table: list[list[str]]
    scored_on: str
    rescored: bool  # the two were tested on different splits and scored again on this one
    moved: bool


def promote(
    client: MlflowClient,
    name: str,
    candidate_alias: str,
    gate: Any,  # PromoteConfig
    version: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    test_split: Path | None = None,
) -> Promotion:
    """Move ``gate.champion_alias`` to the candidate (``version``, else the holder of
    ``candidate_alias``) if it passes the gate, or if forced; record why on the version.

    Call it under :func:`registry_lock`. When the two versions were tested on different test
    splits, both are scored again on ``test_split`` first.
    """
    import dataclasses

    import pandas as pd

    from prodcat.core.promotion import (
        comparison_table,
        decide,
        require_scores,
        same_test_data,
    )
    from prodcat.io.files import file_md5

    if version:
        candidate_version = get_version(client, name, version)
    else:
        candidate_version = alias_holder(client, name, candidate_alias)
        if candidate_version is None:
            raise UserError(
                f"no version of '{name}' holds alias '{candidate_alias}'; pass --version"
            )
    champion_version = alias_holder(client, name, gate.champion_alias)

    candidate = contender(candidate_version)
    champion = contender(champion_version) if champion_version else None
    require_scores(candidate, "candidate")
    if champion:
        require_scores(champion, "champion")
    differ = None
    if champion_version is not None and champion and champion.version != candidate.version:
        differ = labels_differ(name, candidate_version, champion_version)
    scored_on = "the test metrics recorded at export" + (
        " (same test_data.md5 as the champion)" if champion and not differ else ""
    )
    rescored = bool(
        champion
        and not differ
        and champion.version != candidate.version
        and not same_test_data(candidate, champion)
    )
    if rescored:
        if test_split is None or not test_split.is_file():
            raise UserError(
                f"{test_split}: needed to score both versions on the same test data; "
                "run `dvc repro prepare`"
            )
        frame = pd.read_csv(test_split, dtype=str, keep_default_na=False)
        texts, labels = frame["text"].tolist(), frame["label"].tolist()
        current = file_md5(test_split)
        candidate, champion = (
            dataclasses.replace(
                held,
                metrics=rescore_version(name, held.version, texts, labels),
                test_data_md5=current,
            )
            for held in (candidate, champion)
        )
        scored_on = f"both re-evaluated on {test_split} (md5 {current})"
    decision = decide(candidate, champion, gate, labels_differ=differ)
    table = comparison_table(candidate, champion, gate)
    already = champion is not None and champion.version == candidate.version
    moved = not dry_run and not already and (decision.passed or force)
    if moved:
        record = {
            PREVIOUS_CHAMPION_TAG: champion.version if champion else "none",
            "champion.promoted_at": _now(),
            "champion.forced": str(force and not decision.passed).lower(),
            "champion.metric": gate.metric,
            "champion.candidate_value": str(candidate.metrics[gate.metric]),
            "champion.previous_value": str(champion.metrics[gate.metric]) if champion else "none",
            "champion.reason": "; ".join(decision.reasons),
            "champion.scores": scored_on,
        }
        move_alias(client, name, gate.champion_alias, candidate.version, record)
    return Promotion(candidate, champion, decision, table, scored_on, rescored, moved)


def contender(held: ModelVersion) -> Any:  # promotion.Contender
    """A version as the gate sees it: test scores, test split, baseline and coverage."""
    from prodcat.core.promotion import Contender

    scores = recorded_scores(held)
    baseline = recorded_scores(held, prefix="baseline.")
    coverage = held.tags.get("test_coverage")
    return Contender(
        str(held.version),
        scores,
        held.tags.get("test_data.md5", ""),
        baseline=baseline,
        baseline_lift={
            key: scores[key] - value for key, value in baseline.items() if key in scores
        },
        coverage=float(coverage) if coverage else None,
    )


def rollback(client: MlflowClient, name: str, alias: str) -> tuple[str, str]:
    """Give ``alias`` back to the version that held it before; return (from, to) versions.

    Call it under :func:`registry_lock`.
    """
    current = alias_holder(client, name, alias)
    if current is None:
        raise UserError(f"'{name}' has no '{alias}' to roll back")
    previous = current.tags.get(PREVIOUS_CHAMPION_TAG, "none")
    if previous == "none":
        raise UserError(f"{name} v{current.version} has no previous champion to roll back to")
    record = {
        "champion.promoted_at": _now(),
        "champion.reason": f"rollback from v{current.version}",
        "champion.rolled_back_from": str(current.version),
    }
    move_alias(client, name, alias, previous, record)
    return str(current.version), previous


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
