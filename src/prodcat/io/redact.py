"""Credentials out of everything prodcat prints, logs, tags or raises.

A tracking URI may carry a password (``http://user:password@host``) or a token in its query
(``?token=...``); error messages from MLflow and requests repeat the URL they failed on. Every
URI and message that leaves the process goes through :func:`redact_text` (the CLI's log filter
and its one-line errors) or :func:`redact_uri` (URIs prodcat itself names).
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HIDDEN = "***"
# Query parameters that carry a credential, matched by name, case-insensitively.
SECRET_QUERY_KEYS = re.compile(
    r"(token|secret|password|passwd|pwd|sig|signature|key|credential|auth)", re.IGNORECASE
)
# Environment variables whose values are credentials: their values are hidden wherever they
# appear, even outside a URL.
SECRET_ENV_NAMES = re.compile(r"(PASSWORD|SECRET|TOKEN|CREDENTIAL|API_KEY|ACCESS_KEY)")
MIN_SECRET_LENGTH = 6  # shorter values would hide ordinary words
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_USERINFO = re.compile(r"(?<=://)[^/@\s'\"<>]+@")


def redact_uri(uri: str) -> str:
    """``uri`` with its user info and credential-like query values replaced by ``***``.

    ``http://user:pw@host:5000/x?token=abc&run=1`` → ``http://***@host:5000/x?token=***&run=1``.
    """
    try:
        parts = urlsplit(uri)
    except ValueError:
        return _USERINFO.sub(f"{HIDDEN}@", uri)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(SECRET_QUERY_KEYS.search(key) for key, _ in pairs):
            query = urlencode(
                [(key, HIDDEN if SECRET_QUERY_KEYS.search(key) else value) for key, value in pairs],
                safe="*/:",
            )
    if netloc == parts.netloc and query == parts.query:
        return uri
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of credential-named environment variables (``MLFLOW_TRACKING_PASSWORD``...)."""
    environ = dict(os.environ if environ is None else environ)
    return sorted(
        {
            value
            for name, value in environ.items()
            if SECRET_ENV_NAMES.search(name.upper()) and len(value) >= MIN_SECRET_LENGTH
        },
        key=len,
        reverse=True,
    )


def redact_text(text: str) -> str:
    """Every URL in ``text`` through :func:`redact_uri`, and credential values hidden."""
    redacted = _URL.sub(lambda match: redact_uri(match.group(0)), text)
    for secret in secret_values():
        redacted = redacted.replace(secret, HIDDEN)
    return redacted


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record's final message, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            # The formatter prints the exception's text: format it now, redacted.
            record.exc_text = redact_text(
                logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
            )
            record.exc_info = None
        return True


def install_redaction(logger_names: tuple[str, ...] = ("", "mlflow")) -> None:
    """Put :class:`RedactingFilter` on the handlers of the root logger and of MLflow's own
    logger, which prints through a handler of its own (once per handler)."""
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(found, RedactingFilter) for found in handler.filters):
                handler.addFilter(RedactingFilter())
