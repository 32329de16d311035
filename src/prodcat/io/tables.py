"""Tables of titles to score, read and written in chunks: CSV or Parquet, by file extension.

Memory stays bounded by the chunk, whatever the file's size. Opening a table checks the file and
its columns at once, so a typo is reported before a model is loaded. CSV cells are read as text,
as written (an id keeps its leading zeros); Parquet columns keep their types.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from prodcat.core.errors import UserError
from prodcat.io.files import atomic_path

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: Path) -> str:
    """``csv`` or ``parquet`` from the extension, else a one-line error."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        known = ", ".join(sorted(FORMATS))
        raise UserError(f"{path}: unknown table format '{path.suffix}'; use one of {known}")
    return found


@dataclass(frozen=True)
class InputTable:
    """A checked input file: its format, its columns, and roughly how many rows it holds."""

    path: Path
    format: str
    columns: list[str]

    @classmethod
    def open(cls, path: Path, text_column: str) -> InputTable:
        form = table_format(path)
        if not path.is_file():
            raise UserError(f"{path}: input file not found")
        columns = _parquet_columns(path) if form == "parquet" else _csv_columns(path)
        if text_column not in columns:
            raise UserError(
                f"{path}: no column '{text_column}' (columns: {', '.join(columns)}); "
                "pass --text-column"
            )
        return cls(path, form, columns)

    def row_count(self) -> int | None:
        """Rows for the progress bar: exact for Parquet, lines less the header for CSV (a
        quoted line break counts as a row, so the bar may finish a little early)."""
        if self.format == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(self.path).metadata.num_rows
        with self.path.open("rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
        return max(0, lines - 1)

    def chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        if self.format == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=rows):
                yield batch.to_pandas()
            return
        try:
            reader = pd.read_csv(self.path, dtype=str, keep_default_na=False, chunksize=rows)
            with reader:
                yield from reader
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise UserError(f"{self.path}: not a readable UTF-8 CSV ({error})") from error


def _csv_columns(path: Path) -> list[str]:
    try:
        return [str(name) for name in pd.read_csv(path, nrows=0).columns]
    except pd.errors.EmptyDataError as error:
        raise UserError(f"{path}: empty file; expected a CSV with a header row") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable UTF-8 CSV ({error})") from error


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowInvalid, OSError) as error:
        raise UserError(f"{path}: not a readable Parquet file ({error})") from error


def check_output(path: Path) -> str:
    """The output's format; its folder must exist (a typo there fails before scoring)."""
    form = table_format(path)
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: no such folder for --output")
    return form


class _TableWriter:
    """Appends chunks to one CSV or Parquet file; the Parquet schema is the first chunk's."""

    def __init__(self, path: Path, form: str) -> None:
        self._path, self._format = path, form
        self._parquet: Any = None  # pyarrow.parquet.ParquetWriter, once the schema is known
        self._csv = path.open("w", encoding="utf-8", newline="") if form == "csv" else None
        self.rows = 0

    def write(self, chunk: pd.DataFrame) -> None:
        if self._csv is not None:
            chunk.to_csv(self._csv, header=self.rows == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._parquet is None:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                self._parquet = pq.ParquetWriter(self._path, table.schema)
            else:
                table = pa.Table.from_pandas(
                    chunk, schema=self._parquet.schema, preserve_index=False
                )
            self._parquet.write_table(table)
        self.rows += len(chunk)

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
        if self._parquet is not None:
            self._parquet.close()


@contextmanager
def table_writer(path: Path) -> Iterator[_TableWriter]:
    """Write chunks to ``path``; it appears only once every chunk is written."""
    form = table_format(path)
    with atomic_path(path) as temporary:
        writer = _TableWriter(temporary, form)
        try:
            yield writer
        finally:
            writer.close()


def stream_scores(
    scorer: Any,
    chunks: Iterator[pd.DataFrame],
    text_column: str,
    emit: Callable[[pd.DataFrame | None], None],
    total: int | None = None,
    statistics: Any = None,
) -> dict[str, Any]:
    """Score chunk by chunk, handing each scored chunk to ``emit`` (and None after the last);
    count rows, reviews and errors, and the seconds it took (the model already loaded).

    The next chunk is read, and the last one written, on other threads while the network scores
    the current one: TensorFlow releases the GIL, so parsing and formatting text overlap with it.
    Chunks are written in order, and at most three are in memory at once.
    """
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    counts: dict[str, Any] = {"rows": 0, "review": 0, "errors": 0}
    started = time.perf_counter()
    progress = tqdm(total=total, unit=" titles", disable=None, file=sys.stderr, smoothing=0.1)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="prodcat-io")
    chunks = iter(chunks)
    with progress, pool:
        reading, writing = pool.submit(next, chunks, None), None
        while (chunk := reading.result()) is not None:
            reading = pool.submit(next, chunks, None)
            scored = scorer.score(chunk, text_column, statistics)
            counts["rows"] += len(scored)
            counts["review"] += int(scored["needs_review"].sum())
            counts["errors"] += int(scored["error"].notna().sum())
            if writing is not None:
                writing.result()
            writing = pool.submit(emit, scored)
            progress.update(len(scored))
        if writing is not None:
            writing.result()
        emit(None)
    counts["seconds"] = time.perf_counter() - started
    return counts
