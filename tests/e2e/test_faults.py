"""Faults: a killed or interrupted training, an unreachable tracking server."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

from tests.e2e.conftest import Workspace, copy_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(
    prepared_template: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    """A workspace whose data is prepared and whose training runs for minutes if let be.

    A copy of the session's prepared data (prepare and baseline ran, nothing trained yet).
    """
    workspace = copy_workspace(prepared_template, tmp_path_factory.mktemp("faults"))
    workspace.set_params("train", epochs=2000, patience=2000)
    yield workspace


def client_for(workspace: Workspace) -> MlflowClient:
    return MlflowClient(tracking_uri=workspace.tracking_uri, registry_uri=workspace.tracking_uri)


def start(workspace: Workspace, *command: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        cwd=workspace.root,
        env=workspace.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_interruptible,
    )


def _interruptible() -> None:
    """Let SIGINT interrupt, as in a terminal's foreground job.

    A shell starts background jobs (``bash .ci/run &``) with SIGINT ignored, children inherit
    that, and Python then installs no KeyboardInterrupt handler: Ctrl-C could not be tested.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_an_epoch(workspace: Workspace, process: subprocess.Popen[str]) -> str:
    """The id of the RUNNING run once a first epoch has ended: training is under way.

    Watches the training's own output rather than polling MLflow, so the test never races
    the training process while it creates the SQLite store.
    """
    assert process.stdout is not None
    for line in process.stdout:
        if "val_loss" in line:
            break
    else:
        raise AssertionError(f"training ended before an epoch: {process.communicate()}")
    client = client_for(workspace)
    experiment = client.get_experiment_by_name("prodcat")
    (run,) = client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")
    return run.info.run_id


def registered_versions(workspace: Workspace) -> int:
    if not (workspace.root / "mlflow.db").exists():
        return 0
    return len(client_for(workspace).search_model_versions("name = 'prodcat'"))


def test_ctrl_c_exits_cleanly_and_marks_the_run_killed(prepared: Workspace) -> None:
    training = start(prepared, "prodcat", "train")
    run_id = wait_for_an_epoch(prepared, training)
    training.send_signal(signal.SIGINT)
    _, stderr = training.communicate(timeout=120)
    assert training.returncode == 130, stderr[-4000:]
    assert "prodcat: interrupted" in stderr
    assert client_for(prepared).get_run(run_id).info.status == "KILLED"
    assert not (prepared.root / "models/model.keras").exists()


def test_sigkill_mid_epoch_registers_nothing_and_the_next_repro_trains_cleanly(
    prepared: Workspace,
) -> None:
    repro = start(prepared, "dvc", "repro")
    run_id = wait_for_an_epoch(prepared, repro)
    os.killpg(repro.pid, signal.SIGKILL)
    repro.communicate(timeout=60)
    assert registered_versions(prepared) == 0
    assert not (prepared.root / "models/model.keras").exists()
    assert not list((prepared.root / "models").glob(".*tmp*"))
    assert client_for(prepared).get_run(run_id).info.status == "RUNNING"  # nobody closed it

    prepared.set_params("train", epochs=3, patience=2)
    prepared.run("dvc", "repro")
    assert client_for(prepared).get_run(run_id).info.status == "KILLED"
    assert registered_versions(prepared) == 1
    assert "Data and pipelines are up to date" in prepared.run("dvc", "status").stdout


def test_an_unreachable_tracking_server_fails_fast_and_names_the_uri(prepared: Workspace) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{closed}"
    model = prepared.root / "models/model.keras"
    before = model.stat().st_mtime_ns if model.exists() else None
    started = time.monotonic()
    result = subprocess.run(
        ["prodcat", "train"],
        cwd=prepared.root,
        env={**prepared.env, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == (
        f"prodcat: error: MLflow tracking server {uri} refused the connection; "
        "start the server or fix MLFLOW_TRACKING_URI"
    )
    assert "Traceback" not in result.stderr
    assert (model.stat().st_mtime_ns if model.exists() else None) == before


def test_a_locked_sqlite_store_is_waited_for_not_failed_on(tmp_path) -> None:
    """Another process holds the default store's write lock longer than SQLite's own 5 s."""
    store = tmp_path / "mlflow.db"
    writer = (
        "import sys, time, mlflow\n"
        "from pathlib import Path\n"
        "from prodcat.io.tracking import tracking_uri\n"
        "client = mlflow.MlflowClient(tracking_uri=tracking_uri(Path(sys.argv[1])))\n"
        "client.search_experiments()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "started = time.monotonic()\n"
        "client.create_experiment('written-through-a-lock')\n"
        "print(f'waited {time.monotonic() - started:.1f}', flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", writer, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""},
    )
    assert process.stdout.readline().strip() == "ready"
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    process.stdin.write("go\n")
    process.stdin.flush()
    time.sleep(7)
    holder.execute("COMMIT")
    holder.close()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    assert float(out.split()[-1]) >= 6


def test_a_registry_failure_during_export_claims_nothing(prepared: Workspace) -> None:
    """Export against a read-only store: it fails loudly and no output claims a version."""
    registered = prepared.root / "models/registered.json"
    before = registered.read_bytes()
    export_before = (prepared.root / "models/export/MLmodel").read_bytes()
    versions = registered_versions(prepared)
    read_only = f"sqlite:///file:{prepared.root / 'mlflow.db'}?mode=ro&uri=true"
    result = subprocess.run(
        ["prodcat", "export"],
        cwd=prepared.root,
        env={**prepared.env, "MLFLOW_TRACKING_URI": read_only},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "readonly database" in result.stderr
    assert registered.read_bytes() == before
    assert (prepared.root / "models/export/MLmodel").read_bytes() == export_before
    assert not list((prepared.root / "models").glob(".*tmp*"))
    assert registered_versions(prepared) == versions
