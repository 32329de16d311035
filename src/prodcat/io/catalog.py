"""Reading a catalog CSV: the two columns the pipeline needs, or a one-line reason why not."""

from __future__ import annotations

import codecs
import csv
import difflib
import logging
import time
from collections import Counter
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
    encoding = _checked_encoding(path, encoding)
    try:
        first_row = pd.read_csv(
            path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding=encoding
        )
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path}: not valid {encoding}; "
            "set prepare.encoding in params.yaml, e.g. 'latin-1' or 'cp1252'"
        ) from error
    except pd.errors.EmptyDataError as error:
        raise UserError(f"{path}: file is empty; expected a CSV with a header row") from error
    except (pd.errors.ParserError, csv.Error) as error:
        raise UserError(f"{path}: not a readable CSV ({error})") from error
    header = [str(name) for name in first_row.iloc[0].tolist()]
    repeated = sorted(name for name, count in Counter(header).items() if count > 1 and name.strip())
    text, label = (
        _find_column(path, header, role, column)
        for role, column in (("text", text_column), ("label", label_column))
    )
    for role, name in (("text", text), ("label", label)):
        if name in repeated:
            raise UserError(
                f"{path}: the header names {name!r} (prepare.{role}_column) "
                f"{header.count(name)} times; rename the columns so that it names one"
            )
    if repeated:
        logger.warning(
            "%s: the header repeats %s (columns prodcat does not read)",
            path,
            ", ".join(map(repr, repeated)),
        )
    try:
        frame = _read_in_chunks(path, [text, label], encoding)
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path}: not valid {encoding}; set prepare.encoding in params.yaml"
        ) from error
    except (pd.errors.ParserError, csv.Error) as error:
        raise UserError(f"{path}: not a readable CSV ({error})") from error
    if frame.empty:
        raise UserError(f"{path}: has a header but no rows")
    return frame.rename(columns={text: TEXT, label: LABEL})[[TEXT, LABEL]]


# Byte-order marks, longest first: a UTF-32 LE mark starts with the UTF-16 LE one.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
SNIFF_BYTES = 4096


def _checked_encoding(path: Path, encoding: str) -> str:
    """The encoding to read with, or a :class:`UserError` saying what the bytes look like.

    A UTF-8 byte-order mark is skipped (``utf-8-sig``). A UTF-16 or UTF-32 mark, or NUL bytes,
    under another encoding would decode into NULs between the letters: the error names the
    encoding that fits instead, and never prints the NULs.
    """
    try:
        canonical = codecs.lookup(encoding).name
    except LookupError as error:
        raise UserError(f"{path}: unknown encoding '{encoding}'; fix prepare.encoding") from error
    with path.open("rb") as handle:
        start = handle.read(SNIFF_BYTES)
    for mark, family in BYTE_ORDER_MARKS:
        if start.startswith(mark):
            if family == "utf-8" and canonical == "utf-8":
                return "utf-8-sig"
            if not canonical.startswith(family):
                raise UserError(
                    f"{path}: starts with a {family.upper()} byte-order mark but "
                    f"prepare.encoding is '{encoding}'; set prepare.encoding: {family}"
                )
            return encoding
    if b"\x00" in start and not canonical.startswith(("utf-16", "utf-32")):
        even_nuls = start[0::2].count(0)
        odd_nuls = start[1::2].count(0)
        guess = "utf-16-le" if odd_nuls > even_nuls else "utf-16-be"
        raise UserError(
            f"{path}: holds NUL bytes, which a '{encoding}' CSV never does; it looks like "
            f"UTF-16 without a byte-order mark: set prepare.encoding: {guess} (or save it "
            "as UTF-8)"
        )
    return encoding


def _find_column(path: Path, header: list[str], role: str, column: str) -> str:
    """The header name that ``prepare.<role>_column`` means: the same name, or the one name
    equal to it once spaces around either are ignored (noted in the log); else a one-line
    error listing the names quoted, so padding shows, with the closest as a suggestion."""
    if column in header:
        return column
    padded = [name for name in header if name.strip() == column.strip()]
    if len(padded) == 1:
        logger.info(
            "%s: using column %r for prepare.%s_column %r (they differ only in spaces around)",
            path,
            padded[0],
            role,
            column,
        )
        return padded[0]
    shown = ", ".join(repr(name) for name in header[:10]) + (", ..." if len(header) > 10 else "")
    close = difflib.get_close_matches(column, header, n=1) or difflib.get_close_matches(
        column.strip().casefold(), [name.strip().casefold() for name in header], n=1
    )
    matches = [name for name in header if close and close[0] in (name, name.strip().casefold())]
    suggestion = f" (the closest is {matches[0]!r})" if matches else ""
    raise UserError(
        f"{path}: no {role} column {column!r} (columns: {shown}); set "
        f"prepare.{role}_column in params.yaml{suggestion}{_delimiter_hint(header)}"
    )


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


def _delimiter_hint(header: list[str]) -> str:
    """A lone column name holding separators means the file is not comma-separated."""
    if len(header) != 1:
        return ""
    found = [
        name for sign, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")) if sign in header[0]
    ]
    return f", or save the file comma-separated: it seems to use {found[0]}" if found else ""
