"""Drift reports in MLflow: one run per report, tagged with the model it judged."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient

from prodcat.core.config import MonitorConfig
from prodcat.core.errors import UserError
from prodcat.io.registry import alias_holder

logger = logging.getLogger(__name__)

_REGISTERED = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


def model_identity(uri: str) -> dict[str, str]:
    """The model's URI and, for a registered one, its name and version (an alias resolved)."""
    identity = {"uri": uri}
    found = _REGISTERED.match(uri)
    if not found:
        return identity
    name, alias, version = found["name"], found["alias"], found["version"]
    identity["name"] = name
    if alias:
        identity["alias"] = alias
        held = alias_holder(MlflowClient(), name, alias)
        if held is not None:
            version = str(held.version)
    if version:
        identity["version"] = version
    return identity


def log_drift_report(experiment_name: str, report: dict[str, Any], files: Sequence[Path]) -> str:
    """A run holding the report's numbers as metrics, its files as artifacts, the model and the
    verdict as tags; returns its id."""
    mlflow.set_experiment(experiment_name)
    model = report["model"]
    tags = {
        "model_uri": model["uri"],
        "model_name": model.get("name", ""),
        "model_version": model.get("version", ""),
        "drift.alert": str(report["alert"]).lower(),
        "drift.crossed": ",".join(report["crossed"]) or "none",
        "input": report["input"],
    }
    name = f"drift {Path(report['input']).name} {report['created']}"
    with mlflow.start_run(run_name=name, tags=tags) as run:
        mlflow.log_params({f"limit.{check['name']}": check["limit"] for check in report["checks"]})
        mlflow.log_metrics(
            {
                "rows": report["rows"],
                "scored_rows": report["scored_rows"],
                "unscored_share": report["unscored_share"],
                **{f"{check['name']}.batch": check["batch"] for check in report["checks"]},
                **{f"{check['name']}.value": check["value"] for check in report["checks"]},
            }
        )
        for path in files:
            mlflow.log_artifact(str(path), "drift")
    return run.info.run_id


@dataclass(frozen=True)
class DriftJob:
    """Where a drift report goes and the limits it is judged by, checked before scoring."""

    report: Path
    limits: MonitorConfig
    source: str

    @classmethod
    def prepare(cls, report: Path, limits: MonitorConfig, source: str) -> DriftJob:
        if report.suffix.lower() != ".json":
            raise UserError(f"{report}: the drift report is JSON; name it *.json")
        if not report.parent.is_dir():
            raise UserError(f"{report.parent}: no such folder for the drift report")
        return cls(report, limits, source)

    def statistics(self, scorer: Any) -> Any:  # -> core.drift.BatchStatistics
        from prodcat.core.drift import BatchStatistics

        if scorer.reference is None:
            raise UserError(
                "this model carries no drift reference (exported before models did); "
                "export it again with `dvc repro`"
            )
        return BatchStatistics(length_edges=list(scorer.reference["length_edges"]))

    def finish(self, scorer: Any, statistics: Any, model_uri: str) -> tuple[dict, Path, str]:
        """Judge the batch, write the report and its picture, log both as a run; return the
        report, the picture's path and the run's id."""
        from datetime import UTC, datetime

        from prodcat.core.drift import compare
        from prodcat.core.plots import drift_figure
        from prodcat.io.files import atomic_path, write_json
        from prodcat.io.tracking import configure_tracking

        configure_tracking()
        identity = model_identity(model_uri)
        report = {
            "input": self.source,
            "model": identity,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            **compare(scorer.reference, statistics, self.limits),
        }
        picture = self.report.with_suffix(".png")
        figure = drift_figure(report)
        write_json(report, self.report)
        with atomic_path(picture) as temporary:
            figure.savefig(temporary, dpi=100, format="png")
        run_id = log_drift_report(self.limits.experiment_name, report, [self.report, picture])
        return report, picture, run_id
