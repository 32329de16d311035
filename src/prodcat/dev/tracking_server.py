"""A team-style tracking stack on one machine: PostgreSQL and ``mlflow server`` on loopback.

For development and tests: the same engines a team runs (the distribution's PostgreSQL as the
backend store, MLflow's own server with a served artifact store), started from a folder of this
machine. A team deployment swaps the folder for a managed database and S3 (see docs/guide.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prodcat.core.errors import UserError
from prodcat.dev.processes import LOOPBACK, running
from prodcat.io.tracking import mlflow_executable

logger = logging.getLogger(__name__)

DATABASE = "mlflow"
DATABASE_USER = "mlflow"
SERVICE_USER = "postgres"  # PostgreSQL refuses to run as root; the package creates this user


def postgres_bin_dir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` live: Debian keeps them out of PATH, per major version."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major_version)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise UserError(
        "PostgreSQL server programs not found (initdb); install the distribution's package, "
        "e.g. `apt-get install postgresql`"
    )


def _major_version(initdb: Path) -> int:
    name = initdb.parent.parent.name
    return int(name) if name.isdigit() else 0


def as_service_user(command: Sequence[str]) -> list[str]:
    """Run ``command`` as ``postgres`` when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVICE_USER, "--", *command]
    return list(command)


def backend_store_uri(port: int, host: str = LOOPBACK) -> str:
    return f"postgresql://{DATABASE_USER}@{host}:{port}/{DATABASE}"


def mlflow_server_command(
    backend_uri: str,
    artifacts: Path,
    port: int,
    host: str = LOOPBACK,
    workers: int = 2,
    mlflow: str = "mlflow",
) -> list[str]:
    """``mlflow server`` with a database backend and artifacts served through the server.

    Clients then need no access to the artifact store: they upload and download through
    ``mlflow-artifacts:/`` URIs, as they would against S3 behind a team server.
    """
    return [
        mlflow,
        "server",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        str(artifacts),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


@dataclass(frozen=True)
class Postgres:
    """A PostgreSQL cluster in ``data_dir`` listening on loopback ``port`` only."""

    bin_dir: Path
    data_dir: Path
    port: int

    def _run(self, program: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        command = as_service_user([str(self.bin_dir / program), *arguments])
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def initialise(self) -> None:
        """Create the cluster unless it exists: one superuser, trusted on loopback only."""
        if (self.data_dir / "PG_VERSION").is_file():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, user=SERVICE_USER, group=SERVICE_USER)
        done = self._run(
            "initdb", "-D", str(self.data_dir), "-U", DATABASE_USER, "--auth=trust", "-E", "UTF8"
        )
        if done.returncode != 0:
            raise UserError(f"initdb failed in {self.data_dir}: {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses={LOOPBACK}"
        log = self.data_dir / "server.log"
        started = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(log), "-w", "start"
        )
        if started.returncode != 0:
            tail = log.read_text(errors="replace")[-800:] if log.is_file() else ""
            raise UserError(f"PostgreSQL did not start on port {self.port}: {tail.strip()}")

    def create_database(self) -> None:
        done = self._run(
            "createdb", "-h", LOOPBACK, "-p", str(self.port), "-U", DATABASE_USER, DATABASE
        )
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise UserError(f"createdb failed: {done.stderr.strip()}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")


# prodcat logs runs and models, not traces: the server's job runners for GenAI features
# (several processes) would only take memory and CPU.
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@dataclass(frozen=True)
class Stack:
    """A running stack: the URL to give ``MLFLOW_TRACKING_URI`` and the server process."""

    url: str
    backend_uri: str
    server: subprocess.Popen


@contextmanager
def tracking_stack(root: Path, port: int, postgres_port: int, workers: int = 2) -> Iterator[Stack]:
    """PostgreSQL and ``mlflow server`` with state under ``root``; both stopped on exit.

    ``root`` must be reachable by the ``postgres`` user when running as root.
    """
    postgres = Postgres(postgres_bin_dir(), (root / "postgres").resolve(), postgres_port)
    artifacts = (root / "artifacts").resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    postgres.initialise()
    postgres.start()
    try:
        postgres.create_database()
        backend = backend_store_uri(postgres_port)
        command = mlflow_server_command(
            backend, artifacts, port, workers=workers, mlflow=mlflow_executable()
        )
        url = f"http://{LOOPBACK}:{port}"
        env = {**os.environ, **SERVER_ENV}
        log = root / "mlflow-server.log"
        with running(command, f"{url}/health", log=log, env=env) as server:
            logger.info(
                "tracking server on %s: PostgreSQL on %s:%d, artifacts in %s",
                url,
                LOOPBACK,
                postgres_port,
                artifacts,
            )
            yield Stack(url=url, backend_uri=backend, server=server)
    finally:
        postgres.stop()
        logger.info("stopped PostgreSQL in %s", postgres.data_dir)
