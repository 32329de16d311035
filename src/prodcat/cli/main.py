"""The prodcat command: pipeline stages, prediction, the model registry and serving.

The only place that configures logging and the environment. Each command group lives in its own
module and imports its heavy libraries only once its arguments and files have been checked, so
``--help`` and usage errors answer at once. User errors become one line on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prodcat.cli import dev, drift, pipeline, predict, registry, serve
from prodcat.core.errors import UserError, caused_by_interrupt
from prodcat.io.redact import install_redaction, redact_text

logger = logging.getLogger("prodcat")

COMMAND_GROUPS = (pipeline, predict, drift, registry, serve, dev)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prodcat", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="debug logs, without tracebacks"
    )
    loudness.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="params file (default: %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_commands(commands)
    return parser


def log_level(arguments: argparse.Namespace) -> int:
    if arguments.debug or arguments.verbose:
        return logging.DEBUG
    return logging.WARNING if arguments.quiet else logging.INFO


def configure_logging(level: int) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("mlflow", "alembic", "urllib3", "git", "matplotlib", "h5py"):
        logging.getLogger(noisy).setLevel(library_level(level))
    # Its "Retrying ... after connection broken" warnings precede the one line naming the
    # failure; they are debug detail.
    logging.getLogger("urllib3").setLevel(level if level == logging.DEBUG else logging.ERROR)
    install_redaction()


def library_level(level: int) -> int:
    """Libraries speak only of problems, unless debugging."""
    return level if level == logging.DEBUG else max(level, logging.WARNING)


def quiet_libraries(level: int) -> None:
    """Before TensorFlow and MLflow load: keep C++ chatter and progress bars out of the logs.

    MLflow sets its own loggers' level when imported, from ``MLFLOW_LOGGING_LEVEL``.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", logging.getLevelName(library_level(level)))


def redacted_traceback(kind: type[BaseException], value: BaseException, trace: Any) -> None:
    """``--debug``'s tracebacks, with credentials in URLs hidden like everything else."""
    import traceback

    sys.stderr.write(redact_text("".join(traceback.format_exception(kind, value, trace))))


def main(argv: Sequence[str] | None = None) -> int:
    sys.excepthook = redacted_traceback
    arguments = build_parser().parse_args(argv)
    level = log_level(arguments)
    configure_logging(level)
    quiet_libraries(level)
    try:
        return arguments.func(arguments) or 0
    except UserError as error:
        if arguments.debug:
            raise
        print(f"prodcat: error: {redact_text(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return interrupted()
    except Exception as error:
        if caused_by_interrupt(error):
            logger.debug("while stopping on Ctrl-C: %r", error)
            return interrupted()
        if arguments.debug:
            raise
        failure = store_failure(error)
        if failure is not None:
            print(f"prodcat: error: {failure}", file=sys.stderr)
            return 2
        mlflow_error = sys.modules.get("mlflow.exceptions")
        if mlflow_error is None or not isinstance(error, mlflow_error.MlflowException):
            raise
        print(f"prodcat: MLflow error: {redact_text(error.message)}", file=sys.stderr)
        return 1


def store_failure(error: Exception) -> UserError | None:
    """A failure to use the MLflow store (unreachable, timed out, refused, locked), by name.

    Only once MLflow is loaded: before that no command has talked to the store.
    """
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return None
    from prodcat.io.failures import store_failure as named

    return named(error, mlflow.get_tracking_uri())


def interrupted() -> int:
    """Report Ctrl-C as a shell does: one line, exit status 128 + SIGINT."""
    print("prodcat: interrupted; outputs left as they were", file=sys.stderr)
    return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
