"""A throwaway copy of the repository running the real pipeline on the fixture data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE_PARAMS = REPO / "tests/fixtures/params.yaml"
# Credentials a real environment would hold; no log, param, tag or artifact may contain them.
SECRETS = {
    "MLFLOW_TRACKING_PASSWORD": "pw-7f3c9e1a-never-log-me",
    "AWS_SECRET_ACCESS_KEY": "aws-5d2b8c4e-never-log-me",
    "GITHUB_TOKEN": "ghp-9a1e6f0b-never-log-me",
}


@dataclass(frozen=True)
class Workspace:
    """A git + DVC repository in a temporary folder with its own SQLite MLflow store."""

    root: Path
    env: dict[str, str]
    transcript: list[str] = field(default_factory=list)  # every command's output, in order

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            command, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=900
        )
        self.transcript.append(result.stdout + result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
            )
        return result

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"


def _repository_files() -> list[str]:
    """Tracked and new (not ignored) files: what a clone of this working tree would hold."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [name for name in listed if (REPO / name).is_file()]


def make_workspace(root: Path) -> Workspace:
    for name in _repository_files():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    shutil.copy2(FIXTURE_PARAMS, root / "params.yaml")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "DVC_", "GIT_"))
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        TF_CPP_MIN_LOG_LEVEL="3",
        DVC_NO_ANALYTICS="1",
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        GIT_AUTHOR_NAME="prodcat-test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="prodcat-test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
        **SECRETS,
    )
    workspace = Workspace(root=root, env=env)
    workspace.run("git", "init", "--quiet", "--initial-branch=main")
    workspace.run("git", "add", "--all")
    workspace.run("git", "commit", "--quiet", "-m", "fixture workspace")
    return workspace


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace in which ``dvc repro`` has run once, shared by the tests of one module."""
    workspace = make_workspace(tmp_path_factory.mktemp("workspace"))
    workspace.run("dvc", "repro")
    yield workspace
