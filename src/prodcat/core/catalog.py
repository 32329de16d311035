"""Cleaning and splitting a catalog: pure functions over a frame of ``text`` and ``label``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import train_test_split

from prodcat.core.errors import UserError
from prodcat.core.text import normalize_text

logger = logging.getLogger(__name__)

TEXT = "text"
LABEL = "label"
MIN_ROWS_PER_CLASS = 3  # one row in each of train, validation and test


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
