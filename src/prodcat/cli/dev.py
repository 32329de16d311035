"""``prodcat tracking-server``: PostgreSQL and ``mlflow server`` on loopback, for development."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from prodcat.cli.serve import check_port


def add_commands(commands: argparse._SubParsersAction) -> None:
    stack = commands.add_parser(
        "tracking-server",
        help="run PostgreSQL and `mlflow server` on 127.0.0.1 for development (Ctrl-C stops)",
    )
    stack.add_argument("--port", type=int, default=5000, help="MLflow server port (%(default)s)")
    stack.add_argument(
        "--postgres-port", type=int, default=5433, help="PostgreSQL port (%(default)s)"
    )
    stack.add_argument(
        "--dir",
        type=Path,
        default=Path(".tracking-server"),
        help="database and artifacts folder (%(default)s)",
    )
    stack.add_argument("--workers", type=int, default=2, help="server workers (%(default)s)")
    stack.set_defaults(func=run_tracking_server)


def run_tracking_server(arguments: argparse.Namespace) -> None:
    check_port(arguments.port, "--port")
    check_port(arguments.postgres_port, "--postgres-port")
    from prodcat.dev.tracking_server import tracking_stack

    arguments.dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops both servers too, like Ctrl-C
    with tracking_stack(
        arguments.dir, arguments.port, arguments.postgres_port, arguments.workers
    ) as stack:
        print(f"export MLFLOW_TRACKING_URI={stack.url}", flush=True)
        stack.server.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
