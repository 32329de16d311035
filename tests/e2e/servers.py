"""The real servers the end-to-end tests talk to: started, polled and stopped by the project's
own helper (prodcat.dev.processes), plus what the kernel says they listen on."""

from __future__ import annotations

import os
import subprocess

from prodcat.dev.processes import answers, free_port, running

__all__ = ["answers", "free_port", "listening_addresses", "running"]


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
