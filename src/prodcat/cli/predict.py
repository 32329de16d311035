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
from pathlib import Path

from prodcat.cli.scoring import (
    CHUNK_ROWS,
    add_model_argument,
    check_model_argument,
    default_model,
    load_model,
    score_batch,
    table_line,
)
from prodcat.core.errors import UserError

logger = logging.getLogger(__name__)


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


def predict_texts(arguments: argparse.Namespace) -> int:
    """A few texts from the command line: ranked categories, attention, table or JSON."""
    if arguments.output and (arguments.explain or arguments.json):
        raise UserError("predict: --output writes a file; drop --explain and --json")
    import pandas as pd

    from prodcat.serving.requests import (
        MAX_TEXT_CHARS,
        TEXT_FIELD,
        InvalidInput,
        texts_from_request,
    )

    texts = list(arguments.texts)
    if arguments.output:
        frame = pd.DataFrame({arguments.text_column: texts})
        return score_batch(arguments, [frame], len(frame))
    try:
        texts_from_request(texts)  # the server's own checks, before TensorFlow loads
    except InvalidInput as error:
        raise UserError(f"predict: {error.message}") from error
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


def predict_file(arguments: argparse.Namespace) -> int:
    """Score a CSV or Parquet file of any size in chunks, with a progress bar on a terminal."""
    from prodcat.io.tables import InputTable

    table = InputTable.open(arguments.input, arguments.text_column)
    return score_batch(arguments, table, None)


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


def attention_bar(weight: float, width: int = 24) -> str:
    """A bar ``width`` characters long at weight 1, drawn in eighths of a character."""
    eighths = round(max(0.0, min(1.0, weight)) * width * 8)
    return ("█" * (eighths // 8) + " ▏▎▍▌▋▊▉"[eighths % 8]).rstrip().ljust(width)
