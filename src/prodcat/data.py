"""Reading, validating, cleaning and splitting a catalog: one reader, the rest pure functions."""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from prodcat.errors import UserError
from prodcat.text import normalize_text

logger = logging.getLogger(__name__)

TEXT = "text"
LABEL = "label"
MIN_ROWS_PER_CLASS = 3  # one row in each of train, validation and test
READ_CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class CleaningCounts:
    """How many rows each cleaning rule removed, for the data report."""

    rows_read: int
    empty_text: int
    missing_label: int
    duplicates: int
    rare_class_rows: int
    rare_classes: tuple[str, ...]
    rows_kept: int


@dataclass(frozen=True)
class Splits:
    """Stratified train/validation/test frames with columns ``text`` and ``label``."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame

    def items(self) -> tuple[tuple[str, pd.DataFrame], ...]:
        return (("train", self.train), ("val", self.val), ("test", self.test))


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


def file_md5(path: Path) -> str:
    """The same content hash DVC records for a file in ``dvc.lock``."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def clean_catalog(
    frame: pd.DataFrame,
    min_class_count: int,
    source: str = "catalog",
    drop_duplicates: bool = True,
) -> tuple[pd.DataFrame, CleaningCounts]:
    """Normalise texts and drop empty, unlabelled, rare-class and (if asked) duplicate rows.

    Without duplicates no text sits in two splits, so test scores measure unseen titles; keeping
    them measures the stream of titles a shop actually receives, repeats included.
    """
    texts = frame[TEXT].fillna("").map(normalize_text)
    labels = frame[LABEL].fillna("").str.strip()
    cleaned = pd.DataFrame({TEXT: texts, LABEL: labels})
    empty_text = cleaned[TEXT] == ""
    if empty_text.all():
        raise UserError(f"{source}: every text is empty or blank; check prepare.text_column")
    missing_label = ~empty_text & (cleaned[LABEL] == "")
    cleaned = cleaned[~empty_text & ~missing_label]
    deduplicated = cleaned.drop_duplicates(subset=[TEXT]) if drop_duplicates else cleaned
    class_sizes = deduplicated[LABEL].value_counts()
    rare = class_sizes[class_sizes < min_class_count]
    kept = deduplicated[~deduplicated[LABEL].isin(rare.index)].reset_index(drop=True)
    counts = CleaningCounts(
        rows_read=len(frame),
        empty_text=int(empty_text.sum()),
        missing_label=int(missing_label.sum()),
        duplicates=len(cleaned) - len(deduplicated),
        rare_class_rows=int(rare.sum()),
        rare_classes=tuple(sorted(rare.index)),
        rows_kept=len(kept),
    )
    if kept[LABEL].nunique() < 2:
        raise UserError(
            f"{source}: fewer than 2 classes with at least {min_class_count} rows after cleaning "
            f"({counts.rows_kept} of {counts.rows_read} rows kept: {counts.empty_text} empty, "
            f"{counts.missing_label} unlabelled, {counts.duplicates} duplicates, "
            f"{counts.rare_class_rows} in rare classes); lower prepare.min_class_count or add data"
        )
    return kept, counts


def split_catalog(
    frame: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int, source: str = ""
) -> Splits:
    """Stratified train/validation/test split; every class must reach every split."""
    class_sizes = frame[LABEL].value_counts()
    if class_sizes.min() < MIN_ROWS_PER_CLASS:
        raise UserError(
            f"{source or 'catalog'}: class '{class_sizes.idxmin()}' has {class_sizes.min()} rows, "
            f"too few to stratify into train/val/test (needs {MIN_ROWS_PER_CLASS}); raise "
            "prepare.min_class_count to drop it or add rows"
        )
    n_classes = len(class_sizes)
    n_test = max(round(len(frame) * test_fraction), n_classes)
    n_val = max(round(len(frame) * val_fraction), n_classes)
    if n_test + n_val + n_classes > len(frame):
        raise UserError(
            f"{source or 'catalog'}: {len(frame)} rows are too few for {n_classes} classes in "
            "three stratified splits; add rows or lower prepare.val_fraction/test_fraction"
        )
    try:
        rest, test = train_test_split(
            frame, test_size=n_test, stratify=frame[LABEL], random_state=seed
        )
        train, val = train_test_split(
            rest, test_size=n_val, stratify=rest[LABEL], random_state=seed
        )
    except ValueError as error:
        raise UserError(
            f"{source or 'catalog'}: cannot stratify the split ({error}); raise "
            "prepare.min_class_count or add rows to the smallest classes"
        ) from error
    splits = Splits(
        train=train.reset_index(drop=True),
        val=val.reset_index(drop=True),
        test=test.reset_index(drop=True),
    )
    for name, part in splits.items():
        missing = sorted(set(class_sizes.index) - set(part[LABEL]))
        if missing:
            rows = int(class_sizes[missing[0]])
            raise UserError(
                f"{source or 'catalog'}: class '{missing[0]}' ({rows} rows) gets no {name} rows "
                "with these fractions; raise prepare.min_class_count to drop it, add rows, or "
                "raise prepare.val_fraction/test_fraction"
            )
    return splits


def write_array(array: np.ndarray, path: Path) -> None:
    """One array as ``.npy``: NumPy's own format, loaded without pickle and memory-mappable."""
    with path.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)


def read_encoded(
    paths: tuple[Path, Path], memory_map: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(token_ids, label_ids)`` of one split, from the two files of ``layout.split_arrays``.

    Memory-mapped, the arrays stay on disk and only the rows read are paged in, so a split larger
    than the RAM can still be streamed.
    """
    token_path, label_path = paths
    mode = "r" if memory_map else None
    return (
        np.load(token_path, mmap_mode=mode, allow_pickle=False),
        np.load(label_path, mmap_mode=mode, allow_pickle=False),
    )
