"""A team's set-up: the pipeline, the registry commands, serving and queued experiments against a
real `mlflow server` whose backend store is a real PostgreSQL, all on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from prodcat.dev.tracking_server import DATABASE, DATABASE_USER, Stack, tracking_stack
from tests.e2e.conftest import Workspace, copy_workspace
from tests.e2e.servers import free_port, running
from tests.e2e.test_serve import invoke, labels_of


def _postgres_installed() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or bool(shutil.which("initdb"))


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not _postgres_installed() and os.environ.get("CI") != "true",
        reason="PostgreSQL server programs not installed (apt-get install postgresql); "
        "CI installs them",
    ),
]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Not under pytest's tmp folder: PostgreSQL runs as 'postgres', which must reach its data.
    root = Path(tempfile.mkdtemp(prefix="prodcat-stack-"))
    root.chmod(0o755)
    try:
        with tracking_stack(root, free_port(), free_port(), workers=2) as running:
            yield running
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def team(
    stack: Stack, prepared_template: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    """A clone whose pipeline ran against the server, as every team member's would.

    A copy of the session's prepared data: prepare and baseline log nothing to MLflow, so
    `dvc repro` here runs the stages that do (train, evaluate, export) against the server.
    """
    workspace = copy_workspace(prepared_template, tmp_path_factory.mktemp("team"))
    workspace.env["MLFLOW_TRACKING_URI"] = stack.url
    workspace.run("dvc", "repro")
    return workspace


def api(stack: Stack, path: str, **query: str) -> dict:
    answer = requests.get(f"{stack.url}/api/2.0/mlflow/{path}", params=query, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def runs_of(stack: Stack) -> list[dict]:
    experiment = api(stack, "experiments/get-by-name", experiment_name="prodcat")["experiment"]
    answer = requests.post(
        f"{stack.url}/api/2.0/mlflow/runs/search",
        json={"experiment_ids": [experiment["experiment_id"]], "max_results": 100},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json().get("runs", [])


def aliases(stack: Stack) -> dict[str, str]:
    model = api(stack, "registered-models/get", name="prodcat")["registered_model"]
    return {entry["alias"]: entry["version"] for entry in model.get("aliases", [])}


def database_rows(stack: Stack, query: str) -> list[tuple]:
    port = stack.backend_uri.rsplit(":", 1)[1].split("/")[0]
    with psycopg.connect(
        host="127.0.0.1", port=port, user=DATABASE_USER, dbname=DATABASE
    ) as connection:
        return connection.execute(query).fetchall()


def test_pipeline_tracks_and_registers_on_the_server(stack: Stack, team: Workspace) -> None:
    (run,) = runs_of(stack)
    assert run["info"]["status"] == "FINISHED"
    params = {item["key"]: item["value"] for item in run["data"]["params"]}
    metrics = {item["key"]: item["value"] for item in run["data"]["metrics"]}
    assert params["train.lstm_units"] == "8"
    assert 0 <= metrics["test_accuracy"] <= 1
    assert aliases(stack) == {"challenger": "1"}
    version = api(stack, "model-versions/get", name="prodcat", version="1")["model_version"]
    assert version["run_id"] == run["info"]["run_id"]
    # The store is PostgreSQL, the artifacts went through the server, nothing stayed local.
    assert database_rows(stack, "select count(*) from runs") == [(1,)]
    assert database_rows(stack, "select name from registered_models") == [("prodcat",)]
    assert run["info"]["artifact_uri"].startswith("mlflow-artifacts:/")
    assert not (team.root / "mlflow.db").exists()
    assert not (team.root / "mlruns").exists()


def test_promote_list_and_serve_from_the_server(stack: Stack, team: Workspace) -> None:
    team.run("prodcat", "promote")
    assert aliases(stack) == {"challenger": "1", "champion": "1"}
    listed = team.run("prodcat", "models").stdout
    assert "champion" in listed and "challenger" in listed
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ["prodcat", "serve", "--port", str(port)]
    with running(command, f"{url}/ping", team.root / "serve.log", cwd=team.root, env=team.env):
        answer = invoke(url, {"dataframe_records": [{"description": "leather ankle boots"}]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["category"] in labels_of(team)


def test_queued_experiments_run_in_parallel_against_the_server(
    stack: Stack, team: Workspace
) -> None:
    runs_before = len(runs_of(stack))
    team.run("git", "add", "--all")
    team.run("git", "commit", "--quiet", "-m", "pipeline run against the server")
    sizes = ("4", "12")  # two at once: the queue runs them in parallel (-j 2)
    for units in sizes:
        team.run("dvc", "exp", "run", "--queue", "-S", f"train.lstm_units={units}")
    # The queue's workers outlive the command: give it a file, not a pipe they would hold open.
    with (team.root / "queue.log").open("w") as log:
        subprocess.run(
            ["dvc", "queue", "start", "-j", "2"],
            cwd=team.root,
            env=team.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )
    deadline = time.monotonic() + 1200
    try:
        while True:
            status = team.run("dvc", "queue", "status").stdout
            if "Queued" not in status and "Running" not in status:
                break
            assert time.monotonic() < deadline, status
            time.sleep(5)
    finally:
        team.run("dvc", "queue", "stop", check=False)
    assert status.count("Success") == len(sizes), status
    runs = runs_of(stack)
    assert len(runs) == runs_before + len(sizes)  # one MLflow run per experiment, none lost
    assert all(run["info"]["status"] == "FINISHED" for run in runs)
    trained = sorted(
        item["value"]
        for run in runs
        for item in run["data"]["params"]
        if item["key"] == "train.lstm_units"
    )
    assert trained == sorted(["8", *sizes])
