"""Registered versions of the model in the MLflow Model Registry, and their aliases."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from prodcat.errors import UserError

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


def alias_holder(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST" or "alias" in error.message.lower():
            return None
        raise


def get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    try:
        return client.get_model_version(name, version)
    except MlflowException as error:
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


def recorded_scores(version: ModelVersion) -> dict[str, float]:
    """The test metrics export recorded on the version (``test_accuracy`` → ``accuracy``)."""
    return {
        key.removeprefix("test_"): float(value)
        for key, value in version.tags.items()
        if key.startswith("test_") and key != "test_data.md5"
    }


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
    logger.debug("%s is not a local SQLite store: the promotion lock is per machine", tracking_uri)
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

    from prodcat.inference import MAX_TEXTS_PER_REQUEST, TEXT_FIELD
    from prodcat.metrics import label_scores

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
