"""``prodcat predict``: categorize texts, or a file of them of any size, with a model.

By default the registry's champion answers, or, before any promotion, the workspace's export;
stderr says which. A file is checked (format, columns) before TensorFlow or MLflow load, then
scored in chunks by the loaded model's own predictor; each answer carries the calibrated
probability and whether a person should review it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from prodcat.core.errors import UserError

logger = logging.getLogger(__name__)

WORKSPACE_MODEL = Path("models/export")


CHUNK_ROWS = 8192
SHOWN_CHARS = 200  # of a text that could not be scored, in the table


def add_commands(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict",
        help="categorize texts, or a CSV or Parquet file of them, with a model",
        description="Categorize texts, or a file of any size. A file is scored in chunks; each "
        "output row keeps the input row's columns and adds category, its calibrated "
        "probability, needs_review (below the model's review threshold, or not scorable) and "
        "error (why a row could not be scored).",
    )
    predict.add_argument("texts", nargs="*", help="product descriptions to categorize")
    predict.add_argument(
        "--input", type=Path, help="CSV or Parquet file of descriptions to categorize"
    )
    predict.add_argument(
        "--output", type=Path, help="where to write the predictions: .csv or .parquet"
    )
    predict.add_argument(
        "--text-column", default="description", help="text column of --input (%(default)s)"
    )
    add_model_argument(predict)
    predict.add_argument("--top-k", type=int, default=3, help="ranked categories to show")
    predict.add_argument(
        "--explain", action="store_true", help="show the attention weight of each word"
    )
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    predict.add_argument(
        "--chunk-rows",
        type=int,
        default=CHUNK_ROWS,
        help="rows of --input scored at a time: memory grows with it (%(default)s)",
    )
    predict.add_argument(
        "--drift-report",
        type=Path,
        nargs="?",
        const=Path(),
        metavar="REPORT.json",
        help="also compare the batch with the model's training data, as `prodcat drift` does "
        "(default: beside --output); exits 1 when it has drifted",
    )
    predict.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="'spark' scores --input with Spark through mlflow.pyfunc.spark_udf (needs "
        "`pip install -e .[spark]` and Java); --output is then a folder of part files",
    )
    predict.set_defaults(func=run_predict)


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="model directory or MLflow URI, e.g. models:/prodcat@challenger (default: the "
        f"champion, else {WORKSPACE_MODEL})",
    )


def run_predict(arguments: argparse.Namespace) -> int:
    if bool(arguments.texts) == bool(arguments.input):
        raise UserError("predict: give either texts or --input FILE, not both or neither")
    if arguments.top_k < 1:
        raise UserError(f"predict: --top-k is {arguments.top_k}; expected 1 or more")
    if arguments.chunk_rows < 1:
        raise UserError(f"predict: --chunk-rows is {arguments.chunk_rows}; expected 1 or more")
    check_model_argument(arguments.model)
    if arguments.input is None:
        if arguments.drift_report is not None or arguments.engine != "local":
            raise UserError("predict: --drift-report and --engine need --input FILE")
        return predict_texts(arguments)
    if arguments.explain:
        raise UserError("predict: --explain is for texts on the command line, not --input")
    if arguments.engine == "spark":
        return predict_with_spark(arguments)
    return predict_file(arguments)


def check_model_argument(model: str | None) -> None:
    if model and not is_uri(model) and not Path(model).is_dir():
        raise UserError(f"{model}: no exported model here; pass another --model")


def predict_texts(arguments: argparse.Namespace) -> int:
    """A few texts from the command line: ranked categories, attention, table or JSON."""
    if arguments.output and (arguments.explain or arguments.json):
        raise UserError("predict: --output writes a file; drop --explain and --json")
    import pandas as pd

    from prodcat.serving.requests import MAX_TEXT_CHARS, TEXT_FIELD, InvalidInput

    texts = list(arguments.texts)
    if arguments.output:
        frame = pd.DataFrame({arguments.text_column: texts})
        return score_batch(arguments, [frame], len(frame))
    model = load_model(arguments.model or default_model(arguments.params))
    params = {"top_k": arguments.top_k}
    if arguments.explain:  # every word, as many as a text may have
        params["explain"] = MAX_TEXT_CHARS
    try:
        predictions = model.predict(pd.DataFrame({TEXT_FIELD: texts}), params=params)
    except InvalidInput as error:
        raise UserError(f"predict: {error.message}") from error
    if arguments.json:
        records = predictions.to_dict(orient="records")
        for text, record in zip(texts, records, strict=True):
            record[TEXT_FIELD] = text
            if "attention" in record:  # in reading order
                record["attention"] = sorted(record["attention"], key=lambda w: w["position"])
        print(json.dumps(records, ensure_ascii=False, indent=2))
        return 0
    for text, row in zip(texts, predictions.itertuples(index=False), strict=True):
        print(table_line(row.category, row.probability, row.needs_review, text))
        if arguments.explain:
            words = sorted(row.attention, key=lambda w: w["position"])
            width = max(len(w["word"]) for w in words)
            for word in words:
                unknown = "" if word["known"] else "  (unknown word)"
                print(
                    f"  {word['word']:<{width}}  {attention_bar(word['weight'])} "
                    f"{word['weight']:.3f}{unknown}"
                )
    return 0


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


def predict_file(arguments: argparse.Namespace) -> int:
    """Score a CSV or Parquet file of any size in chunks, with a progress bar on a terminal."""
    from prodcat.io.tables import InputTable

    table = InputTable.open(arguments.input, arguments.text_column)
    return score_batch(arguments, table, None)


def score_batch(
    arguments: argparse.Namespace, source: Any, total: int | None, print_rows: bool = True
) -> int:
    """Score ``source`` (an :class:`InputTable`, or a list of frames) to ``--output``, or to
    stdout as a table or JSON (unless not ``print_rows``); compare it with the model's training
    data for ``--drift-report``. Returns 1 when that report alerts, else 0."""
    from prodcat.cli.monitor import DriftJob

    if arguments.output:
        from prodcat.io.tables import check_output

        check_output(arguments.output)
    drift = (
        DriftJob.prepare(arguments, default_report_for(arguments))
        if arguments.drift_report is not None
        else None
    )
    model_uri = arguments.model or default_model(arguments.params)
    scorer = batch_scorer(load_model(model_uri), model_uri)
    statistics = drift.statistics(scorer) if drift else None
    chunks = source.chunks(arguments.chunk_rows) if hasattr(source, "chunks") else iter(source)
    if total is None and hasattr(source, "row_count"):
        total = source.row_count()
    counts = stream_scores(arguments, scorer, chunks, total, statistics, print_rows)
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
    return drift.finish(scorer, statistics, model_uri)


def default_report_for(arguments: argparse.Namespace) -> Path:
    """``--drift-report`` given without a path: beside the output, else in this folder."""
    if arguments.drift_report != Path():
        return arguments.drift_report
    base = arguments.output or Path(arguments.input.name)
    return base.with_name(f"{base.name.split('.')[0]}.drift.json")


def stream_scores(
    arguments: argparse.Namespace,
    scorer: Any,
    chunks: Any,
    total: int | None,
    statistics: Any,
    print_rows: bool = True,
) -> dict[str, Any]:
    """Score chunk by chunk into the output file or stdout; count rows, reviews and errors, and
    the seconds it took (the model already loaded).

    The next chunk is read, and the last one written, on other threads while the network scores
    the current one: TensorFlow releases the GIL, so parsing and formatting text overlap with it.
    Chunks are written in order, and at most three are in memory at once.
    """
    import time
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import nullcontext

    from tqdm import tqdm

    from prodcat.io.tables import table_writer

    counts: dict[str, Any] = {"rows": 0, "review": 0, "errors": 0}
    started = time.perf_counter()
    target = table_writer(arguments.output) if arguments.output else nullcontext(None)
    progress = tqdm(total=total, unit=" titles", disable=None, file=sys.stderr, smoothing=0.1)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="prodcat-io")
    chunks = iter(chunks)
    with target as writer, progress, pool:
        emit = row_emitter(arguments, writer, print_rows)
        reading, writing = pool.submit(next, chunks, None), None
        while (chunk := reading.result()) is not None:
            reading = pool.submit(next, chunks, None)
            scored = scorer.score(chunk, arguments.text_column, statistics)
            counts["rows"] += len(scored)
            counts["review"] += int(scored["needs_review"].sum())
            counts["errors"] += int(scored["error"].notna().sum())
            if writing is not None:
                writing.result()
            writing = pool.submit(emit, scored)
            progress.update(len(scored))
        if writing is not None:
            writing.result()
        emit(None)
    if counts["rows"] == 0:
        raise UserError(f"{arguments.input}: no rows to score")
    counts["seconds"] = time.perf_counter() - started
    return counts


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


def batch_scorer(model: Any, uri: str) -> Any:  # -> serving.batch.BatchScorer
    """The loaded model's own predictor: a batch is scored in this process, in chunks, without
    the served model's per-request limits."""
    scorer = getattr(model.unwrap_python_model(), "batch_scorer", None)
    if scorer is None:
        raise UserError(f"{uri}: not a prodcat model (no batch scorer); pass another --model")
    return scorer()


def predict_with_spark(arguments: argparse.Namespace) -> int:
    from prodcat.io.tables import InputTable, table_format

    InputTable.open(arguments.input, arguments.text_column)
    if arguments.output is None:
        raise UserError("predict: --engine spark writes --output (a folder of part files)")
    table_format(arguments.output)
    if arguments.drift_report is not None or arguments.json:
        raise UserError("predict: --engine spark takes neither --drift-report nor --json")
    from prodcat.io.spark import score_with_spark

    model_uri = arguments.model or default_model(arguments.params)
    score_with_spark(model_uri, arguments.input, arguments.output, arguments.text_column)
    print(f"wrote the predictions to {arguments.output}/ (Spark part files)")
    return 0


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


def attention_bar(weight: float, width: int = 24) -> str:
    """A bar ``width`` characters long at weight 1, drawn in eighths of a character."""
    eighths = round(max(0.0, min(1.0, weight)) * width * 8)
    return ("█" * (eighths // 8) + " ▏▎▍▌▋▊▉"[eighths % 8]).rstrip().ljust(width)


def load_model(uri: str):  # -> mlflow.pyfunc.PyFuncModel
    from prodcat.io.tracking import configure_tracking

    configure_tracking()
    import mlflow

    try:
        return mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as error:
        raise UserError(f"{uri}: cannot load the model ({error.message})") from error
