"""Starting a server in its own process group, waiting until it answers, and stopping it and
its workers: the one way the tracking stack, the tests and the benchmarks run servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from prodcat.core.errors import UserError

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on now, on loopback."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    """Whether ``url`` answers 2xx: False while the server is not listening or still starting."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return 200 <= answer.status < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def running(
    command: Sequence[str],
    ready_url: str,
    log: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
) -> Iterator[subprocess.Popen]:
    """``command`` in its own process group until ``ready_url`` answers; stopped on exit.

    Output goes to ``log`` (appended; a file, not a pipe nobody reads that could fill up), or
    nowhere. A server that exits or does not answer within ``timeout`` seconds is a UserError.
    """
    with (log or Path(os.devnull)).open("a") as sink:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not answers(ready_url):
            where = f"; see {log}" if log else ""
            if process.poll() is not None:
                raise UserError(f"{command[0]} exited with {process.returncode}{where}")
            if time.monotonic() > deadline:
                raise UserError(f"{command[0]} did not answer at {ready_url} in {timeout:.0f} s")
            time.sleep(0.5)
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen, grace_seconds: float = 30) -> None:
    """SIGTERM to the process and its workers (its own group), SIGKILL after ``grace_seconds``."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
