"""Failures talking to the MLflow store, each named for what it is, in one line.

MLflow reports a refused connection, a timeout, a rejected password and a locked SQLite file
alike, as an exception whose message holds the (secret-bearing) URL. :func:`store_failure` reads
the exception chain instead (the requests, urllib3 and sqlite3 errors underneath, and MLflow's
HTTP status) and returns a :class:`StoreError` naming the redacted URI and what to do.
Nothing here imports MLflow: the CLI asks only when a command failed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from prodcat.core.errors import UserError
from prodcat.io.redact import redact_uri

FIX_URI = "start the server or fix MLFLOW_TRACKING_URI"


class StoreError(UserError):
    """The MLflow store could not be used; the subclass says why."""


class StoreUnreachableError(StoreError):
    """Nothing answered at the store's address (connection refused, unknown host)."""


class StoreTimeoutError(StoreError):
    """The store's server accepted the connection but did not answer in time."""


class StoreAuthError(StoreError):
    """The server refused the credentials (HTTP 401) or the permission (HTTP 403)."""


class StoreLockedError(StoreError):
    """Another process held the SQLite store's lock for longer than the wait allows."""


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception behind it: explicit causes, implicit contexts, and the
    ``reason``/``orig`` that urllib3 and SQLAlchemy keep without chaining."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for attribute in ("__cause__", "__context__", "reason", "orig"):
            found = getattr(current, attribute, None)
            if isinstance(found, BaseException):
                pending.append(found)
        pending += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]


def store_failure(
    error: BaseException, uri: str, waited_seconds: float | None = None
) -> StoreError | None:
    """What went wrong talking to the store at ``uri``, or None if ``error`` is something else."""
    shown = redact_uri(uri)
    chain = list(causes(error))
    names = {type(cause).__name__ for cause in chain}
    for cause in chain:
        code = getattr(cause, "sqlite_errorcode", None)
        if isinstance(cause, sqlite3.OperationalError) and code in (
            sqlite3.SQLITE_BUSY,
            sqlite3.SQLITE_LOCKED,
        ):
            waited_seconds = waited_seconds or _sqlite_timeout(uri)
            waited = f" for over {waited_seconds:g} s" if waited_seconds else ""
            return StoreLockedError(
                f"MLflow store {shown} is locked by another process{waited} (a running stage, "
                "`mlflow ui`?); retry when it is done, or raise tracking.sqlite_timeout_seconds"
            )
    for cause in chain:
        status = _http_status(cause)
        if status in (401, 403):
            what = "rejected the credentials" if status == 401 else "denied access"
            return StoreAuthError(
                f"MLflow tracking server {shown} {what} (HTTP {status}); check the user and "
                "password in MLFLOW_TRACKING_URI or MLFLOW_TRACKING_USERNAME/PASSWORD"
            )
    if names & {"ReadTimeout", "ReadTimeoutError", "ConnectTimeout", "ConnectTimeoutError"} or (
        "Timeout" in names
    ):
        return StoreTimeoutError(
            f"MLflow tracking server {shown} did not answer in time; check that it is healthy, "
            "or raise MLFLOW_HTTP_REQUEST_TIMEOUT"
        )
    if names & {"NewConnectionError", "ConnectionRefusedError", "NameResolutionError"} or (
        "ConnectionError" in names and "MaxRetryError" in names
    ):
        refused = "ConnectionRefusedError" in names or any(
            "Connection refused" in str(cause) for cause in chain
        )
        what = "refused the connection" if refused else "cannot be reached"
        return StoreUnreachableError(f"MLflow tracking server {shown} {what}; {FIX_URI}")
    return None


def _sqlite_timeout(uri: str) -> float | None:
    """The ``timeout`` a SQLite store URI asks for (see ``tracking.tracking_uri``)."""
    from urllib.parse import parse_qs, urlsplit

    try:
        return float(parse_qs(urlsplit(uri).query)["timeout"][0])
    except (KeyError, ValueError, IndexError):
        return None


def _http_status(error: BaseException) -> int | None:
    """The HTTP status behind an error: MLflow's error code names it, requests' error holds it."""
    code = getattr(error, "error_code", None)
    if code in ("UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED"):
        return 401
    if code == "PERMISSION_DENIED":
        return 403
    status = getattr(getattr(error, "response", None), "status_code", None)
    return status if isinstance(status, int) else None
