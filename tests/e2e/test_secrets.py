"""A password-protected `mlflow server` (MLflow's basic-auth app) on loopback: the pipeline, the
registry commands and serving work through it; a wrong password and a stopped server are named
for what they are; and the password is in no output, log, tag, param or file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from prodcat.dev.tracking_server import SERVER_ENV
from prodcat.io.tracking import mlflow_executable
from tests.e2e.conftest import SECRETS, Workspace, copy_workspace
from tests.e2e.servers import free_port, running

pytestmark = pytest.mark.slow

PASSWORD = SECRETS["MLFLOW_TRACKING_PASSWORD"]  # also in every workspace's environment
# As a team would run it: with the credential cache, a request costs about 0.1 s, not the ~1 s
# of checking the password's scrypt hash each time.
AUTH_CONFIG = """[mlflow]
default_permission = READ
database_uri = sqlite:///{root}/auth.db
admin_username = admin
admin_password = {password}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
"""


@dataclass
class Team:
    """A workspace whose commands ran against the protected server, then with it stopped."""

    workspace: Workspace
    server_root: Path
    port: int
    up: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    down: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)

    @property
    def redacted(self) -> str:
        return f"http://***@127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def team(prepared_template: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    root = tmp_path_factory.mktemp("auth-server")
    (root / "auth.ini").write_text(AUTH_CONFIG.format(root=root, password=PASSWORD))
    port = free_port()
    server_env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    server_env.update(
        MLFLOW_AUTH_CONFIG_PATH=str(root / "auth.ini"),
        MLFLOW_FLASK_SERVER_SECRET_KEY="csrf-key-of-the-test-server",
        **SERVER_ENV,  # as prodcat's own launcher runs it
    )
    command = [mlflow_executable(), "server", "--app-name", "basic-auth", "--workers", "1"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{root}/store.db"]
    command += ["--artifacts-destination", str(root / "artifacts")]
    workspace = copy_workspace(prepared_template, tmp_path_factory.mktemp("secrets"))
    workspace.set_params("train", epochs=2)  # the secrets matter here, not the model
    workspace.env["MLFLOW_TRACKING_URI"] = f"http://admin:{PASSWORD}@127.0.0.1:{port}"
    team = Team(workspace, root, port)
    server_log = root / "server.log"
    with running(command, f"http://127.0.0.1:{port}/health", server_log, cwd=root, env=server_env):
        team.up["repro"] = workspace.run("dvc", "repro")
        team.up["promote"] = workspace.run("prodcat", "-v", "promote")
        team.up["lineage"] = workspace.run("prodcat", "-v", "lineage", "1", "--full")
        team.up["env-password"] = run_with(
            workspace,
            MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}",
            MLFLOW_TRACKING_USERNAME="admin",
        )
        team.up["wrong-password"] = run_with(
            workspace, MLFLOW_TRACKING_URI=f"http://admin:not-{PASSWORD}@127.0.0.1:{port}"
        )
        serve_port = free_port()
        serve_log = workspace.root / "serve.log"
        team.logs.append(serve_log)
        serve = ["prodcat", "-v", "serve", "--port", str(serve_port)]
        ready = f"http://127.0.0.1:{serve_port}/ping"
        with running(serve, ready, serve_log, cwd=workspace.root, env=workspace.env):
            pass
    # With the server stopped, all at once: each waits out its retries, not the others'.
    stopped = {
        name: subprocess.Popen(
            ["prodcat", *arguments],
            cwd=workspace.root,
            env=workspace.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, arguments in {
            "promote": ("promote",),
            "lineage": ("lineage", "1"),
            "serve": ("serve", "--port", str(free_port())),
            "rollback": ("rollback",),
        }.items()
    }
    for name, process in stopped.items():
        stdout, stderr = process.communicate(timeout=300)
        team.down[name] = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr
        )
        workspace.transcript.append(stdout + stderr)
    yield team


def run_with(workspace: Workspace, **env: str) -> subprocess.CompletedProcess[str]:
    """``prodcat models`` with these variables instead of the workspace's."""
    result = subprocess.run(
        ["prodcat", "models"],
        cwd=workspace.root,
        env={**workspace.env, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    workspace.transcript.append(result.stdout + result.stderr)
    return result


def test_the_pipeline_and_registry_work_through_the_protected_server(team: Team) -> None:
    assert "verdict: PASS" in team.up["promote"].stdout
    assert "prodcat v1" in team.up["lineage"].stdout
    assert team.up["env-password"].returncode == 0, team.up["env-password"].stderr
    assert "champion" in team.up["env-password"].stdout
    # MLflow's own "View run ... at: URL" is replaced by the same link, redacted.
    repro = team.up["repro"]
    assert f"MLflow run at {team.redacted}/#/experiments/" in repro.stdout + repro.stderr
    assert "View run" not in repro.stdout + repro.stderr


def test_a_wrong_password_is_named_as_such_in_one_line(team: Team) -> None:
    result = team.up["wrong-password"]
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"prodcat: error: MLflow tracking server {team.redacted} rejected the credentials "
        "(HTTP 401); check the user and password in MLFLOW_TRACKING_URI or "
        "MLFLOW_TRACKING_USERNAME/PASSWORD"
    ]


@pytest.mark.parametrize("command", ["promote", "lineage", "serve", "rollback"])
def test_a_stopped_server_is_a_refused_connection_not_missing_data(
    team: Team, command: str
) -> None:
    result = team.down[command]
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"prodcat: error: MLflow tracking server {team.redacted} refused the connection; "
        "start the server or fix MLFLOW_TRACKING_URI"
    ]


def test_the_password_is_in_no_output_log_tag_param_or_file(team: Team) -> None:
    """Everything prodcat printed or wrote, and everything the server stored for it (its runs,
    params, tags, model versions and artifacts). Not the server's own user table (a hash)."""
    texts = [*team.workspace.transcript, *(log.read_text() for log in team.logs)]
    sources = [team.workspace.root / name for name in ("tests", ".git")]  # define the secrets
    files = [
        path
        for folder in (team.workspace.root, team.server_root / "artifacts")
        for path in folder.rglob("*")
        if path.is_file() and not any(path.is_relative_to(source) for source in sources)
    ]
    texts += [path.read_bytes().decode("utf-8", errors="replace") for path in files]
    with closing(sqlite3.connect(team.server_root / "store.db")) as store:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        tables = [name for (name,) in store.execute(query)]
        for table in tables:
            texts += [repr(row) for row in store.execute(f'SELECT * FROM "{table}"')]
    assert len(texts) > 100
    for secret in SECRETS.values():
        assert not [text[:300] for text in texts if secret in text]
