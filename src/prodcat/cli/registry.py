"""``prodcat models|promote|rollback|lineage|register``: the Model Registry as a team uses it."""

from __future__ import annotations

import argparse
from pathlib import Path

from prodcat.core.config import ExportConfig, PromoteConfig, TrackingConfig
from prodcat.core.errors import UserError
from prodcat.io.params import load_section


def add_commands(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "models", help="list the registered versions, their aliases and scores"
    ).set_defaults(func=run_models)

    promote = commands.add_parser(
        "promote", help="move the champion alias to a version that passes the quality gate"
    )
    promote.add_argument("--version", help="candidate version (default: the challenger)")
    promote.add_argument("--dry-run", action="store_true", help="report the verdict only")
    promote.add_argument("--force", action="store_true", help="promote past a failed gate")
    promote.set_defaults(func=run_promote)

    commands.add_parser(
        "rollback", help="give the champion alias back to the previous champion"
    ).set_defaults(func=run_rollback)

    lineage = commands.add_parser(
        "lineage", help="where a registered version came from, and how to rebuild it"
    )
    lineage.add_argument("version", help="registered version number")
    lineage.add_argument(
        "--full", action="store_true", help="also every param and the build's dvc.lock"
    )
    lineage.set_defaults(func=run_lineage)

    commands.add_parser(
        "register",
        help="register the workspace's model (e.g. an applied DVC experiment's) as the challenger",
    ).set_defaults(func=run_register)


def registry_names(params: Path) -> tuple[str, str]:
    """The registered model's name (``export:``) and the champion alias (``promote:``)."""
    name = load_section(ExportConfig, "export", params).registered_model_name
    return name, load_section(PromoteConfig, "promote", params).champion_alias


def store_timeout(params: Path) -> float:
    """How long to wait for a locked SQLite store (``tracking.sqlite_timeout_seconds``)."""
    return load_section(TrackingConfig, "tracking", params).sqlite_timeout_seconds


def run_models(arguments: argparse.Namespace) -> None:
    name, champion_alias = registry_names(arguments.params)
    from mlflow import MlflowClient

    from prodcat.core.promotion import render_table
    from prodcat.io.registry import list_versions, recorded_scores
    from prodcat.io.tracking import configure_tracking

    configure_tracking(sqlite_timeout_seconds=store_timeout(arguments.params))
    versions = list_versions(MlflowClient(), name)
    if not versions:
        raise UserError(f"no registered versions of '{name}' yet; run `dvc repro`")
    rows = [
        ["version", "aliases", "created (UTC)", "git commit", "accuracy", "macro_f1", "champion"]
    ]
    for version, aliases in versions:
        scores = recorded_scores(version)
        rows.append(
            [
                str(version.version),
                ",".join(aliases) or "-",
                _timestamp(version.creation_timestamp),
                version.tags.get("git_commit", "unknown")[:12],
                f"{scores['accuracy']:.4f}" if "accuracy" in scores else "-",
                f"{scores['macro_f1']:.4f}" if "macro_f1" in scores else "-",
                "*" if champion_alias in aliases else "",
            ]
        )
    print(render_table(rows))


def run_promote(arguments: argparse.Namespace) -> int:
    export = load_section(ExportConfig, "export", arguments.params)
    gate = load_section(PromoteConfig, "promote", arguments.params)
    from mlflow import MlflowClient

    from prodcat.core.promotion import render_table
    from prodcat.io import layout
    from prodcat.io.registry import lock_dir, promote, registry_lock
    from prodcat.io.tracking import configure_tracking

    name = export.registered_model_name
    uri = configure_tracking(sqlite_timeout_seconds=store_timeout(arguments.params))
    with registry_lock(lock_dir(uri)):
        result = promote(
            MlflowClient(),
            name,
            export.alias,
            gate,
            version=arguments.version,
            force=arguments.force,
            dry_run=arguments.dry_run,
            test_split=layout.split_texts("test"),
        )
    candidate, champion, decision = result.candidate, result.champion, result.decision
    if champion and champion.version == candidate.version:
        print(f"{name} v{candidate.version} already holds '{gate.champion_alias}': no change")
        return 0
    if result.rescored:
        print(f"test data differ: re-evaluating v{candidate.version} and v{champion.version}")
    print(render_table(result.table))
    print(f"scores: {result.scored_on}")
    print(f"verdict: {decision.verdict} ({'; '.join(decision.reasons)})")
    if arguments.dry_run:
        print("dry run: nothing changed")
        return 0 if decision.passed else 1
    if not result.moved:
        print(f"'{gate.champion_alias}' stays on v{champion.version if champion else '(none)'}")
        return 1
    forced = "" if decision.passed else " (forced past a failed gate)"
    print(f"'{gate.champion_alias}' is now {name} v{candidate.version}{forced}")
    return 0


def run_rollback(arguments: argparse.Namespace) -> None:
    name, alias = registry_names(arguments.params)
    from mlflow import MlflowClient

    from prodcat.io.registry import lock_dir, registry_lock, rollback
    from prodcat.io.tracking import configure_tracking

    uri = configure_tracking(sqlite_timeout_seconds=store_timeout(arguments.params))
    with registry_lock(lock_dir(uri)):
        current, previous = rollback(MlflowClient(), name, alias)
    print(f"'{alias}' rolled back from {name} v{current} to v{previous}")


def run_lineage(arguments: argparse.Namespace) -> None:
    name, _ = registry_names(arguments.params)
    from mlflow import MlflowClient

    from prodcat.io.registry import lineage
    from prodcat.io.tracking import configure_tracking

    configure_tracking(sqlite_timeout_seconds=store_timeout(arguments.params))
    found = lineage(MlflowClient(), name, arguments.version)
    print(f"{found.name} v{found.version}")
    print(f"  MLflow run:    {found.run_id}")
    print(f"  git commit:    {found.git_commit}")
    print(f"  data:          {found.data_path} (md5 {found.data_md5})")
    print(f"  test split:    md5 {found.test_data_md5}")
    print("  test metrics:  " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(found.metrics.items())))
    if arguments.full:
        print("  params:")
        for key, value in found.params.items():
            print(f"    {key}: {value}")
        if found.dvc_lock:
            print("  dvc.lock of the build (its stages up to evaluate):")
            print("\n".join(f"    {line}" for line in found.dvc_lock.rstrip().splitlines()))
    else:
        print(f"  params:        {len(found.params)} recorded; --full lists them and dvc.lock")
    if found.git_commit.endswith("-dirty"):
        print("  warning: built from uncommitted changes; the commit alone may not rebuild it")
    print(f"rebuild: {found.rebuild_command}")


def run_register(arguments: argparse.Namespace) -> None:
    load_section(ExportConfig, "export", arguments.params)
    from prodcat.io.tracking import configure_tracking
    from prodcat.stages import export

    configure_tracking(sqlite_timeout_seconds=store_timeout(arguments.params))
    print(export.register(arguments.params))


def _timestamp(milliseconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(milliseconds / 1000, UTC).strftime("%Y-%m-%d %H:%M")
