"""The MLflow side of a training run: where runs go, starting and resuming them, lineage tags."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import mlflow
from mlflow.entities import RunStatus

from prodcat.core.errors import UserError, caused_by_interrupt
from prodcat.io.failures import store_failure
from prodcat.io.redact import install_redaction, redact_text, redact_uri

logger = logging.getLogger(__name__)

DEFAULT_STORE = "mlflow.db"
SQLITE_BUSY_TIMEOUT_SECONDS = 60
HOST_TAG = "prodcat.host"
PID_TAG = "prodcat.pid"
# Code a Ctrl-C must not interrupt (see _interrupts_between_store_writes), and how long it waits.
STORE_MODULES = ("sqlalchemy", "mlflow.store")
INTERRUPT_RETRY_SECONDS = 0.05


def tracking_uri(
    root: Path | None = None, sqlite_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS
) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite file at the repository root.

    Writers to the default store wait up to ``sqlite_timeout_seconds`` for a lock held by
    another process (``mlflow ui``, a second stage) instead of failing on "database is locked"
    at once; after that, :func:`prodcat.io.failures.store_failure` names the lock in one line.
    """
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    store = ((root or Path.cwd()) / DEFAULT_STORE).resolve()
    return f"sqlite:///{store}?timeout={sqlite_timeout_seconds:g}"


# An unreachable tracking server fails a stage within seconds instead of retrying for minutes.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "8"}
# MLflow prints "View run ... at: URL" with the URL as configured, password included: it stays
# quiet, and :func:`log_run_url` logs the same link redacted.
QUIET_URL = {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}


def configure_tracking(
    root: Path | None = None, sqlite_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS
) -> str:
    """Point MLflow's tracking and registry clients at :func:`tracking_uri`; return it."""
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.update(QUIET_URL)
    install_redaction()  # MLflow's own log handler, now that MLflow is imported
    uri = tracking_uri(root, sqlite_timeout_seconds)
    if uri.startswith("sqlite:"):
        bound_sqlite_wait(sqlite_timeout_seconds)
        _quiet_store_logger()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


class _NamedElsewhere(logging.Filter):
    """Drops MLflow's traceback of a store failure the CLI names in one line itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or store_failure(error, "") is None


def _quiet_store_logger() -> None:
    store_logger = logging.getLogger("mlflow.store.db.utils")
    if not any(isinstance(found, _NamedElsewhere) for found in store_logger.filters):
        store_logger.addFilter(_NamedElsewhere())


_SQLITE_WAIT = {"milliseconds": int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}
BUSY_PRAGMA = "PRAGMA busy_timeout"


def bound_sqlite_wait(seconds: float) -> None:
    """Make ``seconds`` the wait for a locked SQLite store, in every statement.

    The URI's ``timeout`` covers a connection's first statements only: MLflow then sets SQLite's
    busy timeout to 20 s at the start of each session. Its pragma is rewritten to ours, so the
    wait is the param's, not a constant of MLflow's.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _SQLITE_WAIT["milliseconds"] = int(seconds * 1000)
    if not event.contains(Engine, "before_cursor_execute", _keep_our_busy_timeout):
        event.listen(Engine, "before_cursor_execute", _keep_our_busy_timeout, retval=True)


def _keep_our_busy_timeout(
    connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> tuple[str, Any]:
    if statement.lstrip().startswith(BUSY_PRAGMA):
        return f"{BUSY_PRAGMA} = {_SQLITE_WAIT['milliseconds']};", parameters
    return statement, parameters


def log_run_url(run_id: str, experiment_id: str) -> None:
    """Where a tracking server shows the run, with any credentials in its URI redacted."""
    uri = mlflow.get_tracking_uri()
    if uri.startswith(("http://", "https://")):
        base = redact_uri(uri).rstrip("/")
        logger.info("MLflow run at %s/#/experiments/%s/runs/%s", base, experiment_id, run_id)


# MLflow 3's UI opens an experiment of this kind on its training runs, not on the GenAI overview.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
# Set by `dvc exp run` in the stages' environment.
DVC_EXPERIMENT_NAME = "DVC_EXP_NAME"


def dvc_experiment() -> str | None:
    """The DVC experiment this process runs in, if any."""
    return os.environ.get(DVC_EXPERIMENT_NAME) or None


def run_name(stage: str, commit: str) -> str:
    """What the run is: stage, commit, DVC experiment and start time, e.g.
    ``train 3f2a9c1d exp-bold-kiwi 2026-11-29T10:04:05Z``. MLflow's generated names repeat when
    Python's random generator is seeded, as training does."""
    from datetime import UTC, datetime

    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = [stage, commit.removesuffix("-dirty")[:8], dvc_experiment() or "workspace", started]
    return " ".join(parts)


@contextmanager
def training_run(
    experiment_name: str, tags: Mapping[str, str], name: str
) -> Iterator[mlflow.ActiveRun]:
    """A new run; Ctrl-C marks it KILLED rather than leaving it RUNNING or calling it FAILED."""
    try:
        experiment = mlflow.set_experiment(experiment_name)
        if experiment.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
            mlflow.set_experiment_tag(EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        end_orphaned_runs(experiment.experiment_id)
        active = mlflow.start_run(run_name=name, tags={**tags, **_owner_tags()})
    except mlflow.exceptions.MlflowException as error:
        uri = mlflow.get_tracking_uri()
        raise store_failure(error, uri) or UserError(
            f"MLflow tracking store {redact_uri(uri)} is not usable "
            f"({redact_text(error.message)}); start the server or fix MLFLOW_TRACKING_URI"
        ) from error
    with _ended_on_interrupt(active) as run:
        yield run


@contextmanager
def resumed_run(run_id: str) -> Iterator[mlflow.ActiveRun]:
    """Reopen the run that trained the model, so later stages log into the same place."""
    try:
        active = mlflow.start_run(run_id=run_id, tags=_owner_tags())
    except mlflow.exceptions.MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise UserError(
            f"MLflow run {run_id} not found in {redact_uri(mlflow.get_tracking_uri())}; "
            "rerun training with `dvc repro -f train`"
        ) from error
    with _ended_on_interrupt(active) as run:
        yield run


def end_orphaned_runs(experiment_id: str) -> list[str]:
    """Mark KILLED the runs a killed process left RUNNING on this machine; return their ids.

    SIGKILL gives a process no chance to close its run, so the next training does it.
    """
    client = mlflow.MlflowClient()
    orphans = [
        run.info.run_id
        for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'")
        if run.data.tags.get(HOST_TAG) == socket.gethostname()
        and not _process_alive(int(run.data.tags.get(PID_TAG, "0")))
    ]
    for run_id in orphans:
        logger.warning(
            "MLflow run %s was left RUNNING by a killed process: marking it KILLED", run_id
        )
        client.set_terminated(run_id, status="KILLED")
    return orphans


def _owner_tags() -> dict[str, str]:
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _ended_on_interrupt(active: mlflow.ActiveRun) -> Iterator[mlflow.ActiveRun]:
    """End the run FINISHED, FAILED on an error, or KILLED on Ctrl-C, which stays a Ctrl-C."""
    with _interrupts_between_store_writes():
        try:
            yield active
            mlflow.flush_async_logging()
        except BaseException as error:
            if caused_by_interrupt(error):
                _mark_killed(active.info.run_id)
            else:
                mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
            raise
        mlflow.end_run(RunStatus.to_string(RunStatus.FINISHED))
        log_run_url(active.info.run_id, active.info.experiment_id)


def _mark_killed(run_id: str) -> None:
    """Mark the run KILLED if the store lets us; else the next training does it."""
    try:
        mlflow.end_run(RunStatus.to_string(RunStatus.KILLED))
    except mlflow.exceptions.MlflowException as error:
        logger.warning(
            "could not mark MLflow run %s KILLED (%s); the next training will",
            run_id,
            error.message,
        )


@contextmanager
def _interrupts_between_store_writes() -> Iterator[None]:
    """Hold Ctrl-C while the main thread is inside the tracking store's database layer.

    Interrupted there, SQLAlchemy's session keeps its connection, and with it the SQLite
    store's write lock, for the rest of the process: nothing could then mark the run KILLED.
    Leaves a SIGINT handler other than Python's own alone (ignored in a background job), and
    does nothing off the main thread, where no handler can be set.
    """
    if (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    signal.signal(signal.SIGINT, _interrupt_unless_in_store)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _interrupt_unless_in_store(signum: int, frame: FrameType | None) -> None:
    """Raise KeyboardInterrupt, or send the signal again shortly if a store call is under way."""
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(STORE_MODULES):
            # To the main thread itself: sent to the process, the signal may land on the timer's
            # thread and leave the main thread's sleep or wait uninterrupted until it ends.
            main = threading.main_thread().ident
            retry = threading.Timer(INTERRUPT_RETRY_SECONDS, signal.pthread_kill, (main, signum))
            retry.daemon = True
            retry.start()
            return
        frame = frame.f_back
    raise KeyboardInterrupt


# Files a running `dvc repro` rewrites itself; they do not make the code differ from the commit.
PIPELINE_RECORDS = ("dvc.lock", "reports", "models")


def git_commit(root: Path | None = None) -> str:
    """The checked-out commit, with ``-dirty`` when tracked sources differ from it."""
    excluded = [f":(exclude){path}" for path in PIPELINE_RECORDS]
    try:
        commit = _git(["rev-parse", "HEAD"], root)
        dirty = _git(["status", "--porcelain", "--untracked-files=no", "--", ".", *excluded], root)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def _git(arguments: list[str], root: Path | None) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=root, capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def flat_params(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"prefix.key": value}``, the names ``dvc params diff`` also uses."""
    return {f"{prefix}.{key}": value for key, value in values.items()}


def mlflow_executable() -> str:
    """The ``mlflow`` installed next to this Python, so a server it starts runs in this
    environment (with prodcat and its pinned packages); else whichever is on PATH."""
    import sys

    beside_python = Path(sys.executable).with_name("mlflow")
    return str(beside_python) if beside_python.is_file() else "mlflow"


def log_training_setup(config: Any, report: Mapping[str, Any], replicas: int) -> None:
    """The run's params (``train.*``, ``prepare.*`` and the scaled batch and learning rate), the
    data report, and each prepared split as an MLflow dataset with its digest."""
    import dataclasses
    import warnings

    import pandas as pd

    from prodcat.io import layout

    mlflow.log_params(
        {
            **flat_params("train", dataclasses.asdict(config)),
            **flat_params("prepare", report["params"]),
            "train.num_replicas": replicas,
            "train.global_batch_size": config.batch_size * replicas,
            "train.effective_learning_rate": config.learning_rate * replicas,
        }
    )
    mlflow.log_dict(dict(report), "data/data_report.json")
    for split, context in (("train", "training"), ("val", "validation"), ("test", "testing")):
        texts = pd.read_csv(layout.split_texts(split), dtype=str, keep_default_na=False)
        with warnings.catch_warnings():  # MLflow finds two equal sources for a local path
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(
                texts, source=report["source"]["path"], targets="label", name=f"catalog-{split}"
            )
        mlflow.log_input(dataset, context=context)


BASELINE_SCORES = ("accuracy", "macro_f1")


def log_evaluation(evaluation: Any, plots_dir: Path) -> None:
    """An ``Evaluation``'s scores, tables and attention sample into the active run, and the
    pictures already written to ``plots_dir`` (logging the files, not drawing them again)."""
    from prodcat.core.metrics import flat_slice_metrics

    summary = evaluation.summary
    mlflow.log_metrics(
        {
            **{f"test_{key}": value for key, value in summary.items() if _is_number(value)},
            **{f"baseline_test_{key}": summary["baseline"][key] for key in BASELINE_SCORES},
            **flat_slice_metrics("test_", summary["slices"]),
            **flat_slice_metrics("baseline_test_", summary["baseline"]["slices"]),
            **{
                f"calibration_{key}": value
                for key, value in summary.get("calibration", {}).items()
                if _is_number(value)
            },
        }
    )
    mlflow.log_dict(evaluation.per_class, "evaluation/per_class.json")
    mlflow.log_dict(evaluation.calibration.as_dict(), "evaluation/calibration.json")
    for name in ("confused_pairs", "class_distribution"):
        mlflow.log_table(evaluation.tables[name], f"evaluation/{name}.json")
    mlflow.log_dict(
        [
            item.as_dict() | {"actual": truth}
            for item, truth in zip(evaluation.sample, evaluation.sample_truth, strict=True)
        ],
        "evaluation/attention_sample.json",
    )
    mlflow.log_artifacts(str(plots_dir), "evaluation")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
