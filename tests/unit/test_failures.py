"""Store failures named from real exceptions: a closed port, a held SQLite lock."""

import socket
import sqlite3
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from prodcat.io.failures import (
    StoreLockedError,
    StoreTimeoutError,
    StoreUnreachableError,
    store_failure,
)
from prodcat.io.tracking import SQLITE_BUSY_TIMEOUT_SECONDS, bound_sqlite_wait


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_named_with_the_uri_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"http://user:s3cr3tPW@127.0.0.1:{closed_port()}"
    with pytest.raises(Exception) as raised:
        MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model("prodcat")
    failure = store_failure(raised.value, uri)
    assert isinstance(failure, StoreUnreachableError)
    assert "refused the connection" in str(failure)
    assert "http://***@127.0.0.1" in str(failure) and "s3cr3tPW" not in str(failure)


def test_a_server_that_never_answers_is_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(Exception) as raised:
            MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model("prodcat")
    failure = store_failure(raised.value, uri)
    assert isinstance(failure, StoreTimeoutError), repr(raised.value)
    assert "did not answer in time" in str(failure)


def test_a_locked_sqlite_store_is_named_with_the_wait(tmp_path: Path) -> None:
    store = tmp_path / "mlflow.db"
    uri = f"sqlite:///{store}?timeout=1"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_experiments()  # creates the schema
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    bound_sqlite_wait(1)
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as raised:
            client.create_experiment("blocked")
    finally:
        bound_sqlite_wait(SQLITE_BUSY_TIMEOUT_SECONDS)
        holder.execute("ROLLBACK")
        holder.close()
    assert time.monotonic() - started < 10  # MLflow's own busy timeout would be 20 s
    failure = store_failure(raised.value, uri)
    assert isinstance(failure, StoreLockedError), repr(raised.value)
    assert "is locked by another process for over 1 s" in str(failure)
    assert "tracking.sqlite_timeout_seconds" in str(failure)


def test_other_errors_are_not_store_failures() -> None:
    assert store_failure(ValueError("alias champion"), "http://127.0.0.1:1") is None
