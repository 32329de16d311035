"""A throwaway copy of the repository running the real pipeline on the fixture data."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

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

    def set_params(self, section: str, **values: object) -> None:
        """Change keys of one section of the workspace's params.yaml."""
        path = self.root / "params.yaml"
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
        params[section].update(values)
        path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


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


def workspace_env() -> dict[str, str]:
    """This process's environment without its MLflow, DVC and git settings, plus the secrets."""
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
    return env


def make_workspace(root: Path) -> Workspace:
    for name in _repository_files():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    shutil.copy2(FIXTURE_PARAMS, root / "params.yaml")
    workspace = Workspace(root=root, env=workspace_env())
    workspace.run("git", "init", "--quiet", "--initial-branch=main")
    workspace.run("git", "add", "--all")
    workspace.run("git", "commit", "--quiet", "-m", "fixture workspace")
    return workspace


def copy_workspace(template: Workspace, root: Path) -> Workspace:
    """An independent copy of ``template`` at ``root``, as if its commands had run there.

    Every file is copied (git history, DVC cache and run cache, the SQLite MLflow store), and
    the transcript too. DVC keys its own state by the repository's path, so it starts afresh in
    the copy. The MLflow store and the logged models' ``MLmodel`` files name artifact folders
    by absolute path: those are moved to ``root``, so that nothing the copy does reads or
    writes the template. Checked here: afterwards nothing in the copy names the template.
    """
    shutil.copytree(template.root, root, dirs_exist_ok=True)
    old, new = f"{template.root}/", f"{root}/"
    store = root / "mlflow.db"
    if store.exists():
        with closing(sqlite3.connect(store)) as database, database:
            for table, column in _text_columns(database):
                database.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                    f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0',
                    (old, new, old),
                )
    for mlmodel in (root / "mlruns").rglob("MLmodel"):
        mlmodel.write_text(mlmodel.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    left = _mentions_of(str(template.root), root)
    assert not left, f"the copy of {template.root} at {root} still names it in {left}"
    return Workspace(root=root, env=dict(template.env), transcript=list(template.transcript))


def _text_columns(database: sqlite3.Connection) -> list[tuple[str, str]]:
    tables = database.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return [
        (table, column[1])
        for (table,) in tables
        for column in database.execute(f'PRAGMA table_info("{table}")').fetchall()
    ]


def _mentions_of(text: str, root: Path) -> list[str]:
    """The files under ``root``, and the MLflow store's table.column pairs, containing ``text``.

    The store is searched through SQL: its file may keep overwritten bytes in free pages.
    """
    store = root / "mlflow.db"
    found = [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and path != store and text.encode() in path.read_bytes()
    ]
    if store.exists():
        with closing(sqlite3.connect(store)) as database:
            found += [
                f"mlflow.db: {table}.{column}"
                for table, column in _text_columns(database)
                if database.execute(
                    f'SELECT count(*) FROM "{table}" WHERE instr("{column}", ?) > 0',
                    (text,),
                ).fetchone()[0]
            ]
    return found


def _fingerprint(root: Path) -> dict[str, str]:
    """Every file under ``root`` and its SHA-256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _unchanged(root: Path, fingerprint: dict[str, str]) -> None:
    now = _fingerprint(root)
    changed = sorted(
        name for name in fingerprint.keys() | now.keys() if fingerprint.get(name) != now.get(name)
    )
    assert not changed, f"a test wrote into the shared template {root}: {changed}"


@contextmanager
def built_once(root: Path, build: Callable[[Path], Workspace]) -> Iterator[Workspace]:
    """The workspace ``build`` makes at ``root``, built once for all the session's workers.

    pytest-xdist runs a session fixture once per worker: the first worker to get here builds,
    under a file lock, and records the transcript and every file's hash; the others wait for it
    and take the same folder. Nobody writes into a template (tests take copies): at the end of
    the session every worker checks it is still byte for byte as built.
    """
    record = root.with_name(f"{root.name}.json")
    with FileLock(f"{root}.lock"):
        if not record.exists():
            shutil.rmtree(root, ignore_errors=True)
            built = build(root)
            facts = {"transcript": built.transcript, "fingerprint": _fingerprint(root)}
            record.write_text(json.dumps(facts), encoding="utf-8")
    facts = json.loads(record.read_text(encoding="utf-8"))
    yield Workspace(root=root, env=workspace_env(), transcript=facts["transcript"])
    _unchanged(root, facts["fingerprint"])


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's templates live: one folder for all pytest-xdist workers."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def prepared_template(templates: Path) -> Iterator[Workspace]:
    """A workspace in which ``dvc repro prepare baseline`` has run; never handed to a test.

    Shared by the whole session because those two stages depend only on the fixture data and
    params (no MLflow store, no absolute path) and several modules need them before doing their
    own training: each takes an independent :func:`copy_workspace` of it instead of running
    them again.
    """

    def build(root: Path) -> Workspace:
        workspace = make_workspace(root)
        workspace.run("dvc", "repro", "prepare", "baseline")
        return workspace

    with built_once(templates / "template-prepared", build) as workspace:
        yield workspace


@pytest.fixture(scope="session")
def pipeline_template(prepared_template: Workspace, templates: Path) -> Iterator[Workspace]:
    """A workspace in which the whole ``dvc repro`` has run once; never handed to a test.

    Shared by the whole session so that the modules testing the pipeline's results need one
    run between them, not one each; each module gets its own :func:`copy_workspace` of it
    (through ``pipeline``), so none sees another's changes.
    """

    def build(root: Path) -> Workspace:
        workspace = copy_workspace(prepared_template, root)
        workspace.run("dvc", "repro")
        return workspace

    with built_once(templates / "template-pipeline", build) as workspace:
        yield workspace


@pytest.fixture(scope="module")
def pipeline(pipeline_template: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace in which ``dvc repro`` has run once, shared by the tests of one module.

    A copy of the session's ``pipeline_template``: the module may change it as it likes.
    """
    return copy_workspace(pipeline_template, tmp_path_factory.mktemp("workspace"))
