"""``prodcat predict``: categorize texts, or a file of them, with a model.

By default the registry's champion answers, or, before any promotion, the workspace's export;
stderr says which.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from prodcat.core.errors import UserError

logger = logging.getLogger(__name__)

WORKSPACE_MODEL = Path("models/export")


def add_commands(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser("predict", help="categorize texts with a model")
    predict.add_argument("texts", nargs="*", help="product descriptions to categorize")
    predict.add_argument("--input", type=Path, help="CSV file of descriptions to categorize")
    predict.add_argument("--output", type=Path, help="where to write the batch predictions CSV")
    predict.add_argument(
        "--text-column", default="description", help="text column of --input (%(default)s)"
    )
    predict.add_argument(
        "--model",
        help="model directory or MLflow URI, e.g. models:/prodcat@challenger (default: the "
        f"champion, else {WORKSPACE_MODEL})",
    )
    predict.add_argument("--top-k", type=int, default=3, help="ranked categories to show")
    predict.add_argument(
        "--explain", action="store_true", help="show the attention weight of each word"
    )
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    predict.set_defaults(func=run_predict)


def run_predict(arguments: argparse.Namespace) -> None:
    if arguments.output and (arguments.explain or arguments.json):
        raise UserError("predict: --output writes a CSV; drop --explain and --json")
    if bool(arguments.texts) == bool(arguments.input):
        raise UserError("predict: give either texts or --input FILE.csv, not both or neither")
    if arguments.top_k < 1:
        raise UserError(f"predict: --top-k is {arguments.top_k}; expected 1 or more")
    if arguments.model and not is_uri(arguments.model) and not Path(arguments.model).is_dir():
        raise UserError(f"{arguments.model}: no exported model here; pass another --model")
    texts = read_texts(arguments.input, arguments.text_column) if arguments.input else None
    import pandas as pd

    from prodcat.serving.requests import MAX_TEXT_CHARS, TEXT_FIELD, InvalidInput

    model = load_model(arguments.model or default_model(arguments.params))
    texts = texts if texts is not None else list(arguments.texts)
    params = {"top_k": arguments.top_k}
    if arguments.explain:  # every word, as many as a text may have
        params["explain"] = MAX_TEXT_CHARS
    try:
        predictions = model.predict(pd.DataFrame({TEXT_FIELD: texts}), params=params)
    except InvalidInput as error:
        raise UserError(f"{arguments.input or 'predict'}: {error.message}") from error
    if arguments.json:
        records = predictions.to_dict(orient="records")
        for text, record in zip(texts, records, strict=True):
            record[TEXT_FIELD] = text
            if "attention" in record:  # in reading order
                record["attention"] = sorted(record["attention"], key=lambda w: w["position"])
        print(json.dumps(records, ensure_ascii=False, indent=2))
    elif arguments.explain:
        for text, row in zip(texts, predictions.itertuples(index=False), strict=True):
            print(f"{row.category}\t{row.probability:.3f}\t{text}")
            words = sorted(row.attention, key=lambda w: w["position"])
            width = max(len(w["word"]) for w in words)
            for word in words:
                unknown = "" if word["known"] else "  (unknown word)"
                print(
                    f"  {word['word']:<{width}}  {attention_bar(word['weight'])} "
                    f"{word['weight']:.3f}{unknown}"
                )
    elif arguments.output:
        from prodcat.io.files import atomic_path

        table = pd.DataFrame({TEXT_FIELD: texts}).join(predictions[["category", "probability"]])
        with atomic_path(arguments.output) as temporary:
            table.to_csv(temporary, index=False)
        print(f"wrote {len(table)} predictions to {arguments.output}")
    else:
        for text, row in zip(texts, predictions.itertuples(index=False), strict=True):
            print(f"{row.category}\t{row.probability:.3f}\t{text}")


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


def read_texts(path: Path, column: str) -> list[str]:
    import pandas as pd

    if not path.is_file():
        raise UserError(f"{path}: input file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable UTF-8 CSV ({error})") from error
    if column not in frame.columns:
        raise UserError(
            f"{path}: no column '{column}' (columns: {', '.join(frame.columns)}); "
            "pass --text-column"
        )
    return frame[column].tolist()


def load_model(uri: str):  # -> mlflow.pyfunc.PyFuncModel
    from prodcat.io.tracking import configure_tracking

    configure_tracking()
    import mlflow

    try:
        return mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as error:
        raise UserError(f"{uri}: cannot load the model ({error.message})") from error
