"""``prodcat serve`` and ``prodcat ui``: MLflow's own scoring server and UI, on loopback.

No hand-written web server: ``mlflow models serve --env-manager local`` serves from this
environment, where the model's code and pinned packages are already installed.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys

from prodcat.core.errors import UserError

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 5001
UI_PORT = 5000


def add_commands(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve a model with `mlflow models serve`")
    serve.add_argument("--model", help="model URI (default: models:/<name>@champion)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (%(default)s)")
    serve.add_argument(
        "--host",
        default=LOOPBACK,
        help="interface to bind (%(default)s); anything else exposes the model to the network",
    )
    serve.set_defaults(func=run_serve)

    ui = commands.add_parser("ui", help="browse runs and registered models in the MLflow UI")
    ui.add_argument("--port", type=int, default=UI_PORT, help="port (%(default)s)")
    ui.add_argument("--host", default=LOOPBACK, help="interface to bind (%(default)s)")
    ui.set_defaults(func=run_ui)


def run_serve(arguments: argparse.Namespace) -> None:
    check_port(arguments.port, "--port")
    check_port_free(arguments.host, arguments.port)
    from prodcat.cli.registry import registry_names, store_timeout
    from prodcat.io.tracking import configure_tracking, mlflow_executable

    # models:/ URIs resolve against the same store the CLI uses (MLFLOW_TRACKING_URI or mlflow.db).
    os.environ["MLFLOW_TRACKING_URI"] = configure_tracking(
        sqlite_timeout_seconds=store_timeout(arguments.params)
    )
    model = arguments.model
    if model is None:
        name, alias = registry_names(arguments.params)
        model = champion_uri(name, alias)
        check_model(model, hint="run `prodcat promote` or pass --model")
    else:
        check_model(model, hint="check --model")
    if not is_loopback(arguments.host):
        logger.warning(
            "WARNING: binding %s exposes the model, without authentication, to every machine "
            "that can reach this one; use --host 127.0.0.1 unless that is what you want",
            arguments.host,
        )
    command = serve_command(model, arguments.host, arguments.port, mlflow_executable())
    logger.info("serving %s on http://%s:%d/invocations", model, arguments.host, arguments.port)
    replace_process(command)


def run_ui(arguments: argparse.Namespace) -> None:
    """``mlflow ui`` on the store the pipeline writes to (``MLFLOW_TRACKING_URI`` or mlflow.db)."""
    check_port(arguments.port, "--port")
    check_port_free(arguments.host, arguments.port)
    from prodcat.io.redact import redact_uri
    from prodcat.io.tracking import mlflow_executable, tracking_uri

    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        raise UserError(
            f"MLFLOW_TRACKING_URI is a server ({redact_uri(uri)}): open it in a browser instead"
        )
    command = [mlflow_executable(), "ui", "--backend-store-uri", uri, "--host", arguments.host]
    command += ["--port", str(arguments.port)]
    logger.info("MLflow UI on http://%s:%d (Ctrl-C stops it)", arguments.host, arguments.port)
    replace_process(command)


def check_port(port: int, option: str) -> None:
    if not 0 < port < 65536:
        raise UserError(f"{option} {port} is out of range 1-65535")


def check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` once, as the server will, so a taken port is one line, not a traceback
    from deep inside the server after the model has loaded."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except socket.gaierror as error:
        raise UserError(
            f"--host {host}: not an address of this machine ({error.strerror})"
        ) from error
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(
            f"cannot listen on {host}:{port} ({reason}): another server may be using it; "
            "stop it or pass --port"
        ) from error


def check_model(model: str, hint: str) -> None:
    """A registry URI must name an existing version or alias, a local path an existing folder.

    ``runs:/`` and remote URIs are left to MLflow. Failures to reach the store propagate, to be
    named for what they are.
    """
    if model.startswith("models:/"):
        from mlflow import MlflowClient

        from prodcat.io.registry import alias_holder, get_version

        reference = model.removeprefix("models:/")
        client = MlflowClient()
        if "@" in reference:
            name, alias = reference.split("@", 1)
            if alias_holder(client, name, alias) is None:
                raise UserError(f"{model}: no version of '{name}' holds '{alias}' yet; {hint}")
        elif "/" in reference:
            name, version = reference.split("/", 1)
            if version.isdigit():
                try:
                    get_version(client, name, version)
                except UserError as error:
                    raise UserError(f"{model}: {error}; {hint}") from error
    elif "://" not in model and not model.startswith("runs:"):
        from pathlib import Path

        if not (Path(model) / "MLmodel").is_file():
            raise UserError(f"{model}: no MLflow model there (no MLmodel file); {hint}")


def replace_process(command: list[str]) -> None:
    """Become ``command``, so signals and the exit status are the server's own."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)


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
