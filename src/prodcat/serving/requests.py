"""What a request may hold, checked before the model runs: the texts, their types and sizes.

MLflow's scoring server turns :class:`InvalidInput` into HTTP 400 with the message.
"""

from __future__ import annotations

import functools
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


def install_request_guard() -> bool:
    """In the ``mlflow models serve`` process, check each request's JSON types before parsing.

    MLflow's scoring server parses ``inputs`` and ``instances`` with ``np.array(values, str)``
    for a string column, so ``5`` and ``null`` would reach the model as the texts ``"5"`` and
    ``"None"``. MLflow has no hook for this; this wraps ``infer_and_parse_data``, the parser the
    server calls with the decoded JSON, and does nothing outside the server. Returns whether the
    guard is active.
    """
    server = sys.modules.get("mlflow.pyfunc.scoring_server")
    parse: Callable[..., Any] | None = getattr(server, "infer_and_parse_data", None)
    if server is None or parse is None:
        return False
    if getattr(parse, "_prodcat_guard", False):
        return True

    @functools.wraps(parse)
    def guarded(data: Any, *args: Any, **kwargs: Any) -> Any:
        check_raw_request(data)
        return parse(data, *args, **kwargs)

    guarded._prodcat_guard = True  # type: ignore[attr-defined]
    server.infer_and_parse_data = guarded  # type: ignore[attr-defined]
    logger.debug("request guard active: non-text '%s' values get HTTP 400", TEXT_FIELD)
    return True
