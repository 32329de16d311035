"""What ``prodcat predict`` and ``prodcat drift`` share: which model answers, loading it, scoring
a stream of rows to a file or the terminal, and printing a drift report."""

from __future__ import annotations

import argparse
import json
import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from prodcat.core.config import MonitorConfig
from prodcat.core.errors import UserError
from prodcat.io.params import load_section

logger = logging.getLogger(__name__)

WORKSPACE_MODEL = Path("models/export")
CHUNK_ROWS = 8192
SHOWN_CHARS = 200  # of a text that could not be scored, in the table


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="model directory or MLflow URI, e.g. models:/prodcat@challenger (default: the "
        f"champion, else {WORKSPACE_MODEL})",
    )


def check_model_argument(model: str | None) -> None:
    if model and not is_uri(model) and not Path(model).is_dir():
        raise UserError(f"{model}: no exported model here; pass another --model")


def is_uri(model: str) -> bool:
    return "://" in model or model.startswith(("models:", "runs:"))


def default_model(params: Path) -> str:
    """The champion's URI if the registry has one, else the workspace's export."""
    from prodcat.cli.registry import registry_names
    from prodcat.io.registry import alias_holder
    from prodcat.io.tracking import configure_tracking

    name, alias = registry_names(params)
    configure_tracking()
    from mlflow import MlflowClient

    champion = alias_holder(MlflowClient(), name, alias)
    if champion is not None:
        logger.info("model: %s v%s, the '%s'", name, champion.version, alias)
        return f"models:/{name}@{alias}"
    if not WORKSPACE_MODEL.is_dir():
        raise UserError(
            f"no '{alias}' in the registry and no {WORKSPACE_MODEL}; "
            "run `dvc repro` or pass --model"
        )
    logger.info("model: %s (the workspace's export; no '%s' yet)", WORKSPACE_MODEL, alias)
    return str(WORKSPACE_MODEL)


def load_model(uri: str):  # -> mlflow.pyfunc.PyFuncModel
    from prodcat.io.tracking import configure_tracking

    configure_tracking()
    import mlflow

    try:
        return mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as error:
        raise UserError(f"{uri}: cannot load the model ({error.message})") from error


def batch_scorer(model: Any, uri: str) -> Any:  # -> serving.batch.BatchScorer
    """The loaded model's own predictor: a batch is scored in this process, in chunks, without
    the served model's per-request limits."""
    scorer = getattr(model.unwrap_python_model(), "batch_scorer", None)
    if scorer is None:
        raise UserError(f"{uri}: not a prodcat model (no batch scorer); pass another --model")
    return scorer()


def score_batch(
    arguments: argparse.Namespace, source: Any, total: int | None, print_rows: bool = True
) -> int:
    """Score ``source`` (an :class:`InputTable`, or a list of frames) to ``--output``, or to
    stdout as a table or JSON (unless not ``print_rows``); compare it with the model's training
    data for ``--drift-report``. Returns 1 when that report alerts, else 0."""
    from prodcat.io.tables import check_output, stream_scores, table_writer

    if arguments.output:
        check_output(arguments.output)
    drift = None
    if arguments.drift_report is not None:
        from prodcat.io.monitoring import DriftJob  # MLflow, once the arguments are checked

        limits = load_section(MonitorConfig, "monitor", arguments.params)
        described = str(arguments.input or "command-line texts")
        drift = DriftJob.prepare(default_report_for(arguments), limits, described)
    model_uri = arguments.model or default_model(arguments.params)
    scorer = batch_scorer(load_model(model_uri), model_uri)
    statistics = drift.statistics(scorer) if drift else None
    chunks = source.chunks(arguments.chunk_rows) if hasattr(source, "chunks") else iter(source)
    if total is None and hasattr(source, "row_count"):
        total = source.row_count()
    with table_writer(arguments.output) if arguments.output else nullcontext(None) as writer:
        emit = row_emitter(arguments, writer, print_rows)
        counts = stream_scores(scorer, chunks, arguments.text_column, emit, total, statistics)
    if counts["rows"] == 0:
        raise UserError(f"{arguments.input}: no rows to score")
    where = f" to {arguments.output}" if arguments.output else ""
    seconds = max(counts.pop("seconds"), 1e-9)
    logger.info(
        "scored %d rows%s in %.1f s (%d titles/s): %d auto-accepted, %d to review "
        "(%d could not be scored)",
        counts["rows"],
        where,
        seconds,
        counts["rows"] / seconds,
        counts["rows"] - counts["review"],
        counts["review"] - counts["errors"],
        counts["errors"],
    )
    if arguments.output:
        print(f"wrote {counts['rows']} predictions to {arguments.output}")
    if drift is None:
        return 0
    report, picture, run_id = drift.finish(scorer, statistics, model_uri)
    print_report(report, drift.report, picture, run_id)
    return 1 if report["alert"] else 0


def default_report_for(arguments: argparse.Namespace) -> Path:
    """``--drift-report`` given without a path: beside the output, else in this folder."""
    if arguments.drift_report != Path():
        return arguments.drift_report
    base = arguments.output or Path(arguments.input.name)
    return base.with_name(f"{base.name.split('.')[0]}.drift.json")


def row_emitter(arguments: argparse.Namespace, writer: Any, print_rows: bool) -> Any:
    """Where scored chunks go: the output file, stdout as JSON records or table lines, or
    nowhere. Called with None once the last chunk is out."""
    as_json = arguments.json and writer is None and print_rows
    started = False

    def emit(scored: Any) -> None:
        nonlocal started
        if scored is None:
            if as_json:
                print("[]" if not started else "]")
            return
        if writer is not None:
            writer.write(scored)
        elif as_json:
            for record in json.loads(scored.to_json(orient="records", force_ascii=False)):
                print(("[ " if not started else ", ") + json.dumps(record, ensure_ascii=False))
                started = True
        elif print_rows:
            for text, category, probability, review, error in zip(
                scored[text_column_after(scored, arguments.text_column)],
                scored["category"],
                scored["probability"],
                scored["needs_review"],
                scored["error"],
                strict=True,
            ):
                print(table_line(category, probability, review, text, error))

    return emit


def text_column_after(scored: Any, text_column: str) -> str:
    """The text column's name in the scored table (renamed if it clashed with an output)."""
    from prodcat.serving.batch import renamed_inputs

    return renamed_inputs([text_column]).get(text_column, text_column)


def table_line(
    category: Any, probability: float, needs_review: bool, text: Any, error: Any = None
) -> str:
    """``category<TAB>probability<TAB>auto|review<TAB>text``: ``review`` marks a prediction a
    person should check (below the model's review threshold); a row that could not be scored
    shows ``-`` and ``error: why`` instead, with its text shortened."""
    if isinstance(error, str):
        shown = str(text)
        shown = shown if len(shown) <= SHOWN_CHARS else shown[:SHOWN_CHARS] + "…"
        return f"-\t-\terror: {error}\t{shown}"
    mark = "review" if needs_review else "auto"
    return f"{category}\t{probability:.3f}\t{mark}\t{text}"


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
