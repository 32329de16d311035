"""How a run ends: Ctrl-C marks it KILLED even when it lands inside an MLflow write."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pytest
import sqlalchemy

from prodcat.io.tracking import configure_tracking, training_run


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[mlflow.MlflowClient]:
    """A real SQLite tracking store of the test's own, set as an entry point sets it.

    An earlier test in the same process may have set another URI: it is put back afterwards.
    """
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    uri = configure_tracking()
    yield mlflow.MlflowClient(tracking_uri=uri)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


@pytest.fixture
def interruptible() -> Iterator[None]:
    """Python's own Ctrl-C handler, as in a terminal's foreground job.

    A shell starts background jobs (``bash .ci/run &``) with SIGINT ignored; Python then installs
    no KeyboardInterrupt handler, and prodcat rightly leaves an ignored SIGINT alone.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def ctrl_c_inside_the_next_write() -> Iterator[None]:
    """Ctrl-C while SQLAlchemy executes the next statement, as a user's could land."""
    sent = []

    def interrupt(*arguments: object) -> None:
        if not sent:
            sent.append(True)
            signal.raise_signal(signal.SIGINT)

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", interrupt)
    try:
        yield
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", interrupt)
    assert sent, "no statement ran: the test proved nothing"


def test_a_run_that_completes_is_finished(store: mlflow.MlflowClient) -> None:
    with training_run("prodcat", {}, "test run") as run:
        mlflow.log_metric("loss", 0.5)
    assert store.get_run(run.info.run_id).info.status == "FINISHED"


def test_an_error_marks_the_run_failed_and_propagates(store: mlflow.MlflowClient) -> None:
    with pytest.raises(ValueError), training_run("prodcat", {}, "test run") as run:
        raise ValueError("boom")
    assert store.get_run(run.info.run_id).info.status == "FAILED"


def test_ctrl_c_between_writes_marks_the_run_killed(
    store: mlflow.MlflowClient, interruptible: None
) -> None:
    with pytest.raises(KeyboardInterrupt), training_run("prodcat", {}, "test run") as run:
        mlflow.log_metric("loss", 0.5)
        raise KeyboardInterrupt
    assert store.get_run(run.info.run_id).info.status == "KILLED"


def test_ctrl_c_inside_a_write_lands_after_it_and_marks_the_run_killed(
    store: mlflow.MlflowClient, interruptible: None
) -> None:
    with pytest.raises(KeyboardInterrupt), training_run("prodcat", {}, "test run") as run:
        with ctrl_c_inside_the_next_write():
            mlflow.log_metric("loss", 0.5)
        time.sleep(10)  # the held Ctrl-C arrives here, long before the end
    assert store.get_run(run.info.run_id).data.metrics == {"loss": 0.5}
    assert store.get_run(run.info.run_id).info.status == "KILLED"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_error_raised_while_ctrl_c_unwinds_still_marks_the_run_killed(
    store: mlflow.MlflowClient, interruptible: None
) -> None:
    with pytest.raises(RuntimeError), training_run("prodcat", {}, "test run") as run:
        try:
            raise KeyboardInterrupt
        finally:
            raise RuntimeError("Exiting device scope without proper scope nesting")
    assert store.get_run(run.info.run_id).info.status == "KILLED"
