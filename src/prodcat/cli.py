"""The ``prodcat`` command: pipeline stages, prediction, and the model registry.

The only place that configures logging, the environment and MLflow; heavy modules are imported
per command, so ``prodcat --help`` answers at once. User errors become one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from prodcat.errors import UserError

logger = logging.getLogger("prodcat")

STAGES = ("prepare", "train", "evaluate", "export")
DEFAULT_MODEL = "models/export"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prodcat", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="params file (default: %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES:
        commands.add_parser(stage, help=f"run the DVC stage '{stage}' (dvc repro runs it for you)")

    predict = commands.add_parser("predict", help="categorize texts with an exported model")
    predict.add_argument("texts", nargs="*", help="product descriptions to categorize")
    predict.add_argument("--input", type=Path, help="CSV file of descriptions to categorize")
    predict.add_argument("--output", type=Path, help="where to write the batch predictions CSV")
    predict.add_argument(
        "--text-column", default="description", help="text column of --input (%(default)s)"
    )
    predict.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model directory or MLflow URI, e.g. models:/prodcat@champion (%(default)s)",
    )
    predict.add_argument("--top-k", type=int, default=3, help="ranked categories to show")
    return parser


def configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("mlflow", "alembic", "urllib3", "git", "matplotlib", "h5py"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


def quiet_libraries() -> None:
    """Before TensorFlow and MLflow load: keep C++ chatter and progress bars out of the logs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def run_stage(stage: str, params: Path) -> None:
    from prodcat.tracking import configure_tracking

    configure_tracking()
    module = importlib.import_module(f"prodcat.stages.{stage}")
    module.main(params)


def run_predict(arguments: argparse.Namespace) -> None:
    import pandas as pd

    from prodcat.inference import TEXT_FIELD
    from prodcat.tracking import configure_tracking

    if bool(arguments.texts) == bool(arguments.input):
        raise UserError("predict: give either texts or --input FILE.csv, not both or neither")
    if arguments.input:
        texts = read_texts(arguments.input, arguments.text_column)
    else:
        texts = list(arguments.texts)
    configure_tracking()
    model = load_model(arguments.model)
    predictions = model.predict(
        pd.DataFrame({TEXT_FIELD: texts}), params={"top_k": arguments.top_k}
    )
    if arguments.output:
        from prodcat.files import atomic_path

        table = pd.DataFrame({TEXT_FIELD: texts}).join(predictions[["category", "probability"]])
        with atomic_path(arguments.output) as temporary:
            table.to_csv(temporary, index=False)
        print(f"wrote {len(table)} predictions to {arguments.output}")
        return
    for text, row in zip(texts, predictions.itertuples(index=False), strict=True):
        print(f"{row.category}\t{row.probability:.3f}\t{text}")


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
    import mlflow

    if "://" not in uri and not uri.startswith("models:") and not Path(uri).is_dir():
        raise UserError(f"{uri}: no exported model here; run `dvc repro` or pass --model")
    try:
        return mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as error:
        raise UserError(f"{uri}: cannot load the model ({error.message})") from error


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    configure_logging(arguments.debug)
    quiet_libraries()
    try:
        if arguments.command in STAGES:
            run_stage(arguments.command, arguments.params)
        elif arguments.command == "predict":
            run_predict(arguments)
    except UserError as error:
        if arguments.debug:
            raise
        print(f"prodcat: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prodcat: interrupted; outputs left as they were", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
