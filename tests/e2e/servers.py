"""Starting, polling and stopping the real servers the end-to-end tests talk to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except (requests.ConnectionError, requests.Timeout):  # not listening, or still starting
        return False


@contextmanager
def running(
    command: Sequence[str],
    ready_url: str,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    timeout: float = 180,
) -> Iterator[subprocess.Popen]:
    """``command`` in its own process group, logging to ``log`` (a file, not a pipe nobody
    reads that could fill up), until ``ready_url`` answers; stopped whatever the test does."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not answers(ready_url):
            assert process.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, f"{command[0]} did not start in {timeout:.0f} s"
            time.sleep(0.5)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def listening_addresses(process: subprocess.Popen, port: int) -> set[str]:
    """The addresses the process group's sockets listen on at ``port``, as the kernel reports."""
    import psutil

    group = os.getpgid(process.pid)
    found = set()
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status != psutil.CONN_LISTEN or connection.laddr.port != port:
            continue
        if connection.pid and os.getpgid(connection.pid) == group:
            found.add(connection.laddr.ip)
    return found
