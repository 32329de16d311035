"""How the development tracking stack is started: pure command lines and URIs."""

from pathlib import Path

import pytest

from prodcat.dev import tracking_server
from prodcat.dev.tracking_server import backend_store_uri, mlflow_server_command


def test_backend_store_is_the_local_postgres_database() -> None:
    assert backend_store_uri(5433) == "postgresql://mlflow@127.0.0.1:5433/mlflow"


def test_server_serves_artifacts_from_its_destination_on_loopback() -> None:
    command = mlflow_server_command(
        "postgresql://mlflow@127.0.0.1:5433/mlflow", Path("/srv/artifacts"), 5000, workers=1
    )
    assert command[:2] == ["mlflow", "server"]
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert options == {
        "--backend-store-uri": "postgresql://mlflow@127.0.0.1:5433/mlflow",
        "--artifacts-destination": "/srv/artifacts",
        "--host": "127.0.0.1",
        "--port": "5000",
        "--workers": "1",
    }


@pytest.mark.parametrize(("uid", "prefix"), [(0, ["runuser", "-u", "postgres", "--"]), (1000, [])])
def test_postgres_programs_never_run_as_root(
    monkeypatch: pytest.MonkeyPatch, uid: int, prefix: list[str]
) -> None:
    monkeypatch.setattr(tracking_server.os, "geteuid", lambda: uid)
    assert tracking_server.as_service_user(["initdb", "-D", "x"]) == [*prefix, "initdb", "-D", "x"]
