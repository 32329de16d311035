"""``prodcat drift``: does a batch of new titles still look like the model's training data?

Scores the batch with the serving model (the champion by default) and compares it with the
reference statistics the model shipped with: the share of titles holding an unknown word, the
titles' lengths, the predicted categories, the mean calibrated probability and the share sent to
review. Writes a JSON report and a picture, logs both as a run of the ``monitor.experiment_name``
experiment tagged with the model, and exits 1 when a ``monitor:`` limit is crossed, so that a
scheduler can alert. ``prodcat predict --input FILE --drift-report`` does the same while scoring.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodcat.core.config import MonitorConfig
from prodcat.core.errors import UserError
from prodcat.io.params import load_section

logger = logging.getLogger(__name__)


def add_commands(commands: argparse._SubParsersAction) -> None:
    from prodcat.cli.predict import CHUNK_ROWS, add_model_argument

    drift = commands.add_parser(
        "drift",
        help="compare a batch of titles with the model's training data; exit 1 if it drifted",
        description=__doc__.split("\n\n")[1],
    )
    drift.add_argument("--input", type=Path, required=True, help="CSV or Parquet file of titles")
    drift.add_argument(
        "--text-column", default="description", help="text column of --input (%(default)s)"
    )
    add_model_argument(drift)
    drift.add_argument(
        "--report",
        type=Path,
        help="JSON report to write; the picture goes beside it as .png "
        "(default: INPUT-NAME.drift.json in this folder)",
    )
    drift.add_argument(
        "--chunk-rows", type=int, default=CHUNK_ROWS, help="rows scored at a time (%(default)s)"
    )
    drift.set_defaults(func=run_drift)


def run_drift(arguments: argparse.Namespace) -> int:
    from prodcat.cli.predict import check_model_argument, score_batch
    from prodcat.io.tables import InputTable

    if arguments.chunk_rows < 1:
        raise UserError(f"drift: --chunk-rows is {arguments.chunk_rows}; expected 1 or more")
    check_model_argument(arguments.model)
    table = InputTable.open(arguments.input, arguments.text_column)
    arguments.output, arguments.json = None, False
    arguments.drift_report = arguments.report or Path()
    return score_batch(arguments, table, None, print_rows=False)


@dataclass(frozen=True)
class DriftJob:
    """Where a drift report goes and the limits it is judged by, checked before scoring."""

    report: Path
    limits: MonitorConfig
    source: str

    @classmethod
    def prepare(cls, arguments: argparse.Namespace, report: Path) -> DriftJob:
        if report.suffix.lower() != ".json":
            raise UserError(f"{report}: the drift report is JSON; name it *.json")
        if not report.parent.is_dir():
            raise UserError(f"{report.parent}: no such folder for the drift report")
        limits = load_section(MonitorConfig, "monitor", arguments.params)
        return cls(report, limits, str(arguments.input or "command-line texts"))

    def statistics(self, scorer: Any) -> Any:  # -> core.drift.BatchStatistics
        from prodcat.core.drift import BatchStatistics

        if scorer.reference is None:
            raise UserError(
                "this model carries no drift reference (exported before models did); "
                "export it again with `dvc repro`"
            )
        return BatchStatistics(length_edges=list(scorer.reference["length_edges"]))

    def finish(self, scorer: Any, statistics: Any, model_uri: str) -> int:
        """Judge, write, log and print the report; 1 if it alerts, else 0."""
        from datetime import UTC, datetime

        from prodcat.core.drift import compare
        from prodcat.core.plots import drift_figure
        from prodcat.io.files import atomic_path, write_json
        from prodcat.io.monitoring import log_drift_report, model_identity
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
        print_report(report, self.report, picture, run_id)
        return 1 if report["alert"] else 0


def print_report(report: dict, path: Path, picture: Path, run_id: str) -> None:
    verdict = (
        "DRIFT: " + ", ".join(report["crossed"])
        if report["alert"]
        else ("no drift" if report["judged"] else "not judged: too few rows")
    )
    print(f"{verdict} ({report['scored_rows']} scored rows of {report['rows']})")
    for check in report["checks"]:
        flag = "!" if check["crossed"] else " "
        print(
            f" {flag} {check['name']:<20} reference {check['reference']:.4f}  batch "
            f"{check['batch']:.4f}  value {check['value']:+.4f}  limit {check['limit']}"
        )
    print(f"report: {path} and {picture}; MLflow run {run_id}")
