"""How ``prodcat serve`` runs the model: the ``mlflow models serve`` command line. Pure functions.

The scoring server is MLflow's own (no hand-written web server); ``--env-manager local`` serves
from this environment, where the model's code and pinned packages are already installed.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 5001


def mlflow_executable() -> str:
    """The ``mlflow`` installed next to this Python, so a server it starts runs in this
    environment (with prodcat and its pinned packages); else whichever is on PATH."""
    beside_python = Path(sys.executable).with_name("mlflow")
    return str(beside_python) if beside_python.is_file() else "mlflow"


def champion_uri(name: str, alias: str) -> str:
    """The registry URI of the version holding ``alias``, e.g. ``models:/prodcat@champion``."""
    return f"models:/{name}@{alias}"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(
    model: str, host: str = LOOPBACK, port: int = DEFAULT_PORT, mlflow: str = "mlflow"
) -> list[str]:
    """The ``mlflow models serve`` argv that serves ``model`` on ``host:port``.

    ``mlflow`` is the executable to run: pass the one installed next to this Python, so the
    server's ``--env-manager local`` environment is the one that has prodcat and its packages.
    """
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range 1-65535")
    return [
        mlflow,
        "models",
        "serve",
        "-m",
        model,
        "--env-manager",
        "local",
        "--host",
        host,
        "--port",
        str(port),
    ]
