"""The one helper that starts, polls and stops servers, on a real HTTP server."""

import sys
from pathlib import Path

import pytest

from prodcat.core.errors import UserError
from prodcat.dev.processes import answers, free_port, running


def test_a_server_is_waited_for_and_stopped_with_its_group(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    log = tmp_path / "server.log"
    with running(command, url, log, cwd=tmp_path, timeout=30) as process:
        assert answers(url)
    assert process.poll() is not None  # stopped on exit
    assert not answers(url)
    assert "GET /" in log.read_text()


def test_a_server_that_exits_is_named_with_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "raise SystemExit(3)"]
    with (
        pytest.raises(UserError, match=r"exited with 3; see .*server\.log"),
        running(command, f"http://127.0.0.1:{free_port()}/", tmp_path / "server.log"),
    ):
        pass


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    with (
        pytest.raises(UserError, match="did not answer"),
        running(command, f"http://127.0.0.1:{free_port()}/", timeout=1),
    ):
        pass
