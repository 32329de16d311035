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
from pathlib import Path

from prodcat.cli.scoring import CHUNK_ROWS, add_model_argument, check_model_argument, score_batch
from prodcat.core.errors import UserError

logger = logging.getLogger(__name__)


def add_commands(commands: argparse._SubParsersAction) -> None:
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
    from prodcat.io.tables import InputTable

    if arguments.chunk_rows < 1:
        raise UserError(f"drift: --chunk-rows is {arguments.chunk_rows}; expected 1 or more")
    check_model_argument(arguments.model)
    table = InputTable.open(arguments.input, arguments.text_column)
    arguments.output, arguments.json = None, False
    arguments.drift_report = arguments.report or Path()
    return score_batch(arguments, table, None, print_rows=False)
