"""Two ``tf.distribute`` workers on loopback train the fixture model together.

The chief runs ``prodcat train`` (what ``dvc repro`` calls), the other ``prodcat train-worker``;
both read the same ``TF_CONFIG`` cluster. Only the chief may log to MLflow or write files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import socket
import subprocess
from pathlib import Path

import mlflow
import pytest
import yaml

from tests.e2e.conftest import Workspace, copy_workspace

pytestmark = pytest.mark.slow

TIMEOUT_SECONDS = 600
CHIEF_OUTPUTS = {
    "models/model.keras",
    "models/features.json",
    "models/run.json",
    "reports/history.csv",
}
MLFLOW_STORE = ("mlflow.db", "mlflow.db-journal", "mlruns/", "mlartifacts/")


def free_loopback_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports: list[int], index: int) -> str:
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def snapshot(root: Path) -> dict[str, str]:
    """Every file of the workspace (outside .git and the MLflow store) and its SHA-256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and ".git" not in path.relative_to(root).parts
        and not str(path.relative_to(root)).startswith(MLFLOW_STORE)
    }


def run_cluster(workspace: Workspace, scratch: Path) -> list[tuple[int, str]]:
    """Start the chief and a worker, wait for both; their exit codes and outputs."""
    ports = free_loopback_ports(2)
    launches = [(["prodcat", "train"], 0), (["prodcat", "train-worker"], 1)]
    processes = []
    logs = []
    try:
        for command, index in launches:
            log = (scratch / f"task-{index}.log").open("w+", encoding="utf-8")
            tmp = scratch / f"tmp-{index}"
            tmp.mkdir()
            env = {**workspace.env, "TF_CONFIG": tf_config(ports, index), "TMPDIR": str(tmp)}
            processes.append(
                subprocess.Popen(
                    command, cwd=workspace.root, env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
            logs.append(log)
        for process in processes:
            process.wait(timeout=TIMEOUT_SECONDS)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    results = []
    for process, log in zip(processes, logs, strict=True):
        log.seek(0)
        results.append((process.returncode, log.read()))
        log.close()
    return results


def test_two_workers_train_together_and_only_the_chief_writes(
    prepared_template: Workspace, tmp_path: Path
) -> None:
    # The session's `dvc repro prepare baseline`, copied: nothing trained yet.
    workspace = copy_workspace(prepared_template, tmp_path / "workspace")
    params_path = workspace.root / "params.yaml"
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    params["train"]["distribution"] = "multi_worker"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    before = snapshot(workspace.root)
    status_before = workspace.run("git", "status", "--porcelain").stdout.splitlines()
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    (chief_code, chief_log), (worker_code, worker_log) = run_cluster(workspace, scratch)

    assert chief_code == 0, f"chief failed:\n{chief_log[-4000:]}"
    assert worker_code == 0, f"worker failed:\n{worker_log[-4000:]}"
    assert "2 replica(s) in sync" in chief_log and "2 replica(s) in sync" in worker_log
    assert "worker done" in worker_log

    after = snapshot(workspace.root)
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == CHIEF_OUTPUTS, changed  # the worker left nothing, not even a temp file
    assert not set(before) - set(after)
    status_after = workspace.run("git", "status", "--porcelain").stdout.splitlines()
    new_entries = {line[3:] for line in status_after} - {line[3:] for line in status_before}
    assert new_entries <= CHIEF_OUTPUTS, new_entries
    assert not any((scratch / "tmp-1").iterdir()), "the worker's scratch model was not removed"

    run_record = json.loads((workspace.root / "models/run.json").read_text(encoding="utf-8"))
    client = mlflow.MlflowClient(tracking_uri=workspace.tracking_uri)
    runs = client.search_runs([run_record["experiment_id"]])
    assert [run.info.run_id for run in runs] == [run_record["run_id"]]  # the worker logged none
    run = runs[0]
    assert run.info.status == "FINISHED"
    train = params["train"]
    assert run.data.params["train.distribution"] == "multi_worker"
    assert run.data.params["train.num_replicas"] == "2"
    assert run.data.params["train.global_batch_size"] == str(2 * train["batch_size"])
    assert float(run.data.params["train.effective_learning_rate"]) == pytest.approx(
        2 * train["learning_rate"]
    )
    assert run.data.tags["model_sha256"] == run_record["model_sha256"]

    labels = json.loads((workspace.root / "data/prepared/labels.json").read_text("utf-8"))
    chance = 1 / len(labels)
    with (workspace.root / "reports/history.csv").open(encoding="utf-8") as handle:
        history = list(csv.DictReader(handle))
    assert 1 <= len(history) <= train["epochs"]
    best = min(history, key=lambda row: float(row["val_loss"]))
    assert float(best["val_accuracy"]) > 2 * chance, best
    assert float(history[-1]["loss"]) < float(history[0]["loss"])
    logged = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert len(logged) == len(history)

    from prodcat.core.model import load_model

    assert load_model(workspace.root / "models/model.keras").output_shape[-1] == len(labels)
