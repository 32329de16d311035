"""Reading a catalog CSV: the two columns the pipeline needs, or a one-line reason why not."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

import pandas as pd

from prodcat.core.catalog import LABEL, TEXT
from prodcat.core.errors import UserError

logger = logging.getLogger(__name__)

READ_CHUNK_ROWS = 200_000


def read_catalog(path: Path, text_column: str, label_column: str, encoding: str) -> pd.DataFrame:
    """Read the two columns the pipeline needs as strings, or fail with a one-line reason."""
    if not path.exists():
        raise UserError(f"{path}: file not found; set prepare.path in params.yaml")
    if not path.is_file():
        raise UserError(f"{path}: is a directory, not a CSV file; set prepare.path to a file")
    try:
        header = pd.read_csv(path, nrows=0, encoding=encoding).columns
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path}: not valid {encoding}; "
            "set prepare.encoding in params.yaml, e.g. 'latin-1' or 'cp1252'"
        ) from error
    except LookupError as error:
        raise UserError(f"{path}: unknown encoding '{encoding}'; fix prepare.encoding") from error
    except pd.errors.EmptyDataError as error:
        raise UserError(f"{path}: file is empty; expected a CSV with a header row") from error
    except (pd.errors.ParserError, csv.Error) as error:
        raise UserError(f"{path}: not a readable CSV ({error})") from error
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in header:
            shown = ", ".join(map(str, header[:10])) + (", ..." if len(header) > 10 else "")
            raise UserError(
                f"{path}: no {role} column '{column}' (columns: {shown}); "
                f"set prepare.{role}_column in params.yaml{_delimiter_hint(header)}"
            )
    try:
        frame = _read_in_chunks(path, [text_column, label_column], encoding)
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path}: not valid {encoding}; set prepare.encoding in params.yaml"
        ) from error
    except (pd.errors.ParserError, csv.Error) as error:
        raise UserError(f"{path}: not a readable CSV ({error})") from error
    if frame.empty:
        raise UserError(f"{path}: has a header but no rows")
    return frame.rename(columns={text_column: TEXT, label_column: LABEL})[[TEXT, LABEL]]


def _read_in_chunks(path: Path, columns: list[str], encoding: str) -> pd.DataFrame:
    """The columns as strings, read ``READ_CHUNK_ROWS`` at a time so a big file logs progress."""
    size_mb = path.stat().st_size / 1e6
    started = time.perf_counter()
    chunks = []
    rows = 0
    with pd.read_csv(
        path,
        usecols=columns,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        encoding=encoding,
        chunksize=READ_CHUNK_ROWS,
    ) as reader:
        for chunk in reader:
            chunks.append(chunk)
            rows += len(chunk)
            if len(chunk) == READ_CHUNK_ROWS:
                logger.info("reading %s: %d rows so far", path, rows)
    logger.info(
        "read %d rows from %s (%.1f MB) in %.1f s",
        rows,
        path,
        size_mb,
        time.perf_counter() - started,
    )
    if not chunks:
        return pd.DataFrame(columns=columns, dtype=str)
    return pd.concat(chunks, ignore_index=True)


def _delimiter_hint(header: pd.Index) -> str:
    """A lone column name holding separators means the file is not comma-separated."""
    if len(header) != 1:
        return ""
    found = [
        name for sign, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")) if sign in header[0]
    ]
    return f", or save the file comma-separated: it seems to use {found[0]}" if found else ""
