"""What a request may hold, checked before the model runs: the texts, their types and sizes.

MLflow's scoring server turns :class:`InvalidInput` into HTTP 400 with the message.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

logger = logging.getLogger(__name__)

TEXT_FIELD = "description"
MAX_TEXTS_PER_REQUEST = 5000
MAX_TEXT_CHARS = 5000
# All the texts of one request together: with the two limits above alone, one request could
# hold 25 million characters, and a few at once grow the server by gigabytes that it keeps.
MAX_REQUEST_CHARS = 1_000_000
# The body as sent, checked before it is decoded: room for MAX_REQUEST_CHARS even when every
# character is a JSON escape, and no more.
MAX_REQUEST_BYTES = 8 * MAX_REQUEST_CHARS


class InvalidInput(MlflowException):
    """A request the model cannot answer; MLflow's server turns it into HTTP 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


def texts_from_request(model_input: Any) -> list[str]:
    """The texts of a request, or :class:`InvalidInput` saying what is wrong with it."""
    if isinstance(model_input, pd.DataFrame):
        if TEXT_FIELD not in model_input.columns:
            found = ", ".join(map(str, model_input.columns)) or "none"
            raise InvalidInput(f"missing field '{TEXT_FIELD}' (fields found: {found})")
        values = model_input[TEXT_FIELD].tolist()
    elif isinstance(model_input, dict) and TEXT_FIELD in model_input:
        values = list(np.atleast_1d(model_input[TEXT_FIELD]))
    elif isinstance(model_input, (list, tuple, np.ndarray, pd.Series)):
        values = list(model_input)
    else:
        raise InvalidInput(f"expected records with a '{TEXT_FIELD}' field")
    _check_texts(values)
    return values


def _is_missing(value: Any) -> bool:
    """None, pandas' NA, or the NaN pandas stores for a missing value beside texts."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _check_texts(values: Sequence[Any]) -> None:
    """Between 1 and the limit of non-blank texts, none too long; else :class:`InvalidInput`."""
    if not len(values):
        raise InvalidInput("no texts to classify: the request is empty")
    if len(values) > MAX_TEXTS_PER_REQUEST:
        raise InvalidInput(
            f"{len(values)} texts in one request; send at most {MAX_TEXTS_PER_REQUEST} per request"
        )
    total = 0
    for position, value in enumerate(values):
        if not isinstance(value, str):
            kind = "null" if _is_missing(value) else type(value).__name__
            raise InvalidInput(f"'{TEXT_FIELD}' of item {position} is {kind}; expected text")
        if not value.strip():
            raise InvalidInput(f"'{TEXT_FIELD}' of item {position} is empty")
        if len(value) > MAX_TEXT_CHARS:
            raise InvalidInput(
                f"'{TEXT_FIELD}' of item {position} has {len(value)} characters; "
                f"the limit is {MAX_TEXT_CHARS}"
            )
        total += len(value)
        if total > MAX_REQUEST_CHARS:
            raise InvalidInput(
                f"the texts up to item {position} hold {total} characters; one request may hold "
                f"{MAX_REQUEST_CHARS} in all: send fewer or shorter texts per request"
            )


def raw_texts(request: Any) -> list[Any] | None:
    """The ``description`` values of a decoded JSON request, as sent, or None if not found.

    Covers the four JSON forms of ``mlflow models serve``: ``dataframe_records``,
    ``dataframe_split``, ``inputs`` and ``instances`` (columnar, records or a bare list).
    """
    if not isinstance(request, dict) or len(request) != 1:
        return None
    form, data = next(iter(request.items()))
    if form == "dataframe_split" and isinstance(data, dict):
        columns, rows = data.get("columns"), data.get("data")
        if isinstance(columns, list) and TEXT_FIELD in columns and isinstance(rows, list):
            at = columns.index(TEXT_FIELD)
            return [row[at] if isinstance(row, list) and len(row) > at else None for row in rows]
        return None
    if form not in ("dataframe_records", "inputs", "instances"):
        return None
    if isinstance(data, dict):
        if TEXT_FIELD not in data:
            return None
        value = data[TEXT_FIELD]
        return value if isinstance(value, list) else [value]
    if isinstance(data, list):
        if data and all(isinstance(item, dict) for item in data):
            if not any(TEXT_FIELD in item for item in data):
                return None  # MLflow's schema check names the missing field
            return [item.get(TEXT_FIELD) for item in data]
        return None if data and form == "dataframe_records" else data
    return None


def check_raw_request(request: Any) -> None:
    """Check the texts of a JSON request as sent, before MLflow casts them to the string type.

    The same rules as :func:`texts_from_request`, so non-text values cannot slip through as
    ``"5"`` or ``"None"``, and an oversized request is refused before it is parsed.

    :class:`InvalidInput` is an :class:`MlflowException`, so the server answers HTTP 400.
    """
    values = raw_texts(request)
    if values is not None:  # else not a shape we know: MLflow's parser and the model decide
        _check_texts(values)


def refused_body(body: Any, content_type: str | None) -> tuple[int, str] | None:
    """The HTTP status and reason to refuse a request body with before it is decoded, or None.

    No content type would fail inside MLflow's server as an error 500; a body too large for
    :data:`MAX_REQUEST_CHARS` is refused unread.
    """
    if not content_type:
        return 415, "no Content-Type header; send 'Content-Type: application/json'"
    if isinstance(body, (bytes, str)) and len(body) > MAX_REQUEST_BYTES:
        return 413, (
            f"the request body has {len(body)} bytes; the limit is {MAX_REQUEST_BYTES} "
            f"({MAX_REQUEST_CHARS} characters of text per request)"
        )
    return None


def install_request_guard() -> bool:
    """In the ``mlflow models serve`` process, check each request before MLflow parses it.

    MLflow has no hook for this, so two of its scoring server's functions are wrapped, and
    nothing happens outside the server. ``invocations``, which the server calls with the raw
    body and content type: no content type is HTTP 415 (MLflow would fail on it with HTTP 500),
    an oversized body 413, and JSON too deeply nested to decode 400 (MLflow: 500).
    ``infer_and_parse_data``, which the server calls with the decoded JSON: MLflow parses
    ``inputs`` and ``instances`` with ``np.array(values, str)`` for a string column, so ``5``
    and ``null`` would reach the model as the texts ``"5"`` and ``"None"``; they are HTTP 400.
    Returns whether the guard is active.
    """
    server = sys.modules.get("mlflow.pyfunc.scoring_server")
    parse: Callable[..., Any] | None = getattr(server, "infer_and_parse_data", None)
    invocations: Callable[..., Any] | None = getattr(server, "invocations", None)
    if server is None or parse is None or invocations is None:
        return False
    if getattr(parse, "_prodcat_guard", False):
        return True

    @functools.wraps(parse)
    def guarded(data: Any, *args: Any, **kwargs: Any) -> Any:
        check_raw_request(data)
        return parse(data, *args, **kwargs)

    @functools.wraps(invocations)
    def checked(data: Any, content_type: str | None, *args: Any, **kwargs: Any) -> Any:
        refused = refused_body(data, content_type)
        if refused is not None:  # answered as MLflow answers its own errors
            status, reason = refused
            body = json.dumps({"error_code": "BAD_REQUEST", "message": reason})
            return server.InvocationsResponse(body, status, "application/json")
        try:
            return invocations(data, content_type, *args, **kwargs)
        except RecursionError as error:
            raise InvalidInput("the JSON is nested too deeply to read") from error

    guarded._prodcat_guard = True  # type: ignore[attr-defined]
    server.infer_and_parse_data = guarded  # type: ignore[attr-defined]
    server.invocations = checked  # type: ignore[attr-defined]
    logger.debug("request guard active: non-text '%s' values get HTTP 400", TEXT_FIELD)
    return True
