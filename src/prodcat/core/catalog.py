"""Cleaning and splitting a catalog: pure functions over a frame of ``text`` and ``label``."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from prodcat.core.errors import UserError
from prodcat.core.labels import (
    REPORT_SAMPLE,
    conflicting_titles,
    lookalike_labels,
    merge_label_variants,
)
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
    cut_titles: int = 0  # longer than max_title_chars: cut, not dropped
    label_merges: tuple[dict, ...] = ()  # spellings of one label merged into one name
    label_lookalikes: tuple[dict, ...] = ()  # kept apart, but worth a look
    conflicting_titles: dict | None = None  # one title under several labels


@dataclass(frozen=True)
class Splits:
    """Train/validation/test frames with columns ``text`` and ``label``."""

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
    merge_variants: bool = True,
    max_title_chars: int | None = None,
) -> tuple[pd.DataFrame, CleaningCounts]:
    """Normalise texts and drop empty, unlabelled, rare-class and (if asked) duplicate rows.

    Without duplicates no text sits in two splits, so test scores measure unseen titles; keeping
    them measures the stream of titles a shop actually receives, repeats included. Titles are
    cut to ``max_title_chars`` first (as the served model cuts them), and labels differing only
    in case, spacing or Unicode form are merged unless ``merge_variants`` is false.
    """
    raw = frame[TEXT].fillna("")
    cut_titles = int((raw.str.len() > max_title_chars).sum()) if max_title_chars else 0
    texts = raw.map(lambda text: normalize_text(text, max_title_chars))
    labels = frame[LABEL].fillna("").str.strip()
    merges: list[dict] = []
    if merge_variants:
        labels, merges = merge_label_variants(labels)
    cleaned = pd.DataFrame({TEXT: texts, LABEL: labels})
    empty_text = cleaned[TEXT] == ""
    if empty_text.all():
        raise UserError(f"{source}: every text is empty or blank; check prepare.text_column")
    missing_label = ~empty_text & (cleaned[LABEL] == "")
    cleaned = cleaned[~empty_text & ~missing_label]
    conflicts = conflicting_titles(cleaned[TEXT], cleaned[LABEL])
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
        cut_titles=cut_titles,
        label_merges=tuple(merges),
        label_lookalikes=tuple(lookalike_labels(kept[LABEL].unique())),
        conflicting_titles=conflicts,
    )
    _log_findings(counts, source, max_title_chars)
    if kept[LABEL].nunique() < 2:
        raise UserError(
            f"{source}: fewer than 2 classes with at least {min_class_count} rows after cleaning "
            f"({counts.rows_kept} of {counts.rows_read} rows kept: {counts.empty_text} empty, "
            f"{counts.missing_label} unlabelled, {counts.duplicates} duplicates, "
            f"{counts.rare_class_rows} in rare classes); lower prepare.min_class_count or add data"
        )
    return kept, counts


def _log_findings(counts: CleaningCounts, source: str, max_title_chars: int | None) -> None:
    """What the data report lists, said once in the log where someone will read it."""
    for merge in counts.label_merges:
        spellings = ", ".join(f"{k!r} ({v} rows)" for k, v in merge["spellings"].items())
        logger.info("%s: labels merged into %r: %s", source, merge["into"], spellings)
    if counts.label_lookalikes:
        pairs = "; ".join(
            f"{pair['labels'][0]!r} / {pair['labels'][1]!r} ({pair['why']})"
            for pair in counts.label_lookalikes[:REPORT_SAMPLE]
        )
        more = len(counts.label_lookalikes) - REPORT_SAMPLE
        logger.warning(
            "%s: %d pairs of labels look like variants of one another, kept apart: %s%s",
            source,
            len(counts.label_lookalikes),
            pairs,
            f" (+{more} more in the data report)" if more > 0 else "",
        )
    if counts.cut_titles:
        logger.warning(
            "%s: %d titles longer than %d characters cut to that length (prepare.max_title_chars)",
            source,
            counts.cut_titles,
            max_title_chars,
        )
    conflicts = counts.conflicting_titles or {}
    if conflicts.get("titles"):
        logger.warning(
            "%s: %d titles appear under more than one label (%d rows), e.g. %r; the data "
            "report lists some",
            source,
            conflicts["titles"],
            conflicts["rows"],
            conflicts["sample"][0]["text"],
        )


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


# A group overshooting a split's target by more than this share is skipped: one big brand
# cannot make up most of the test split.
GROUP_OVERSHOOT = 0.05


@dataclass(frozen=True)
class GroupSplit:
    """Train/validation/test frames whose groups do not overlap, and what was dropped."""

    splits: Splits
    groups: dict[str, int]  # distinct groups per split
    unseen_class_rows: dict[str, int]  # validation and test rows of a class train lacks
    largest_group_share: dict[str, float]  # of each split's rows


def title_groups(texts: pd.Series, pattern: str) -> pd.Series:
    """The group of each (normalised) title: the first match of ``pattern``, its first capture
    group if it has one; a title without a match is a group of its own."""
    compiled = re.compile(pattern)

    def group_of(position: int, text: str) -> str:
        found = compiled.search(text)
        if found is None:
            return f"\0row {position}"  # no title reads like this: a group of its own
        return found.group(1 if compiled.groups else 0)

    return pd.Series(
        [group_of(position, text) for position, text in enumerate(texts)],
        index=texts.index,
        dtype=object,
    )


def take_groups(groups: pd.Series, target: float, rng: np.random.RandomState) -> np.ndarray:
    """Rows of whole groups, taken in a seeded shuffle of the groups until they hold at least
    95 % of ``target`` rows; a group that would overshoot ``target`` by more than
    :data:`GROUP_OVERSHOOT` is skipped. A boolean mask over ``groups``."""
    sizes = groups.value_counts().sort_index()
    chosen, total = [], 0
    for position in rng.permutation(len(sizes)):
        size = int(sizes.iloc[position])
        if total + size > (1 + GROUP_OVERSHOOT) * target:
            continue
        chosen.append(sizes.index[position])
        total += size
        if total >= (1 - GROUP_OVERSHOOT) * target:
            break
    return groups.isin(set(chosen)).to_numpy()


def group_split(
    frame: pd.DataFrame,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    pattern: str,
    source: str = "",
) -> GroupSplit:
    """Train/validation/test split by whole groups (see ``prepare.split``): test first, about
    ``test_fraction`` of the rows, then validation from the groups left, about ``val_fraction``
    of all rows. Validation and test rows of classes that training lacks are dropped."""
    name = source or "catalog"
    groups = title_groups(frame[TEXT], pattern)
    if groups.nunique() < 3:
        raise UserError(
            f"{name}: prepare.group_pattern {pattern!r} finds {groups.nunique()} group(s); a "
            "group split needs at least 3 (one per split)"
        )
    rng = np.random.RandomState(seed)  # legacy generator: the same draws on every NumPy
    in_test = take_groups(groups, test_fraction * len(frame), rng)
    rest, rest_groups = frame[~in_test], groups[~in_test]
    in_val = take_groups(rest_groups, val_fraction * len(frame), rng)
    parts = {"train": rest[~in_val], "val": rest[in_val], "test": frame[in_test]}
    part_groups = {
        "train": rest_groups[~in_val],
        "val": rest_groups[in_val],
        "test": groups[in_test],
    }
    known = set(parts["train"][LABEL])
    unseen = {}
    for split in ("val", "test"):
        seen = parts[split][LABEL].isin(known)
        unseen[split] = int((~seen).sum())
        parts[split], part_groups[split] = parts[split][seen], part_groups[split][seen]
    for split, part in parts.items():
        if part.empty:
            raise UserError(
                f"{name}: the group split leaves no {split} rows (groups of prepare.group_pattern "
                f"{pattern!r} too big or too few); use another pattern or prepare.split: "
                "stratified"
            )
    return GroupSplit(
        splits=Splits(*(parts[split].reset_index(drop=True) for split in ("train", "val", "test"))),
        groups={split: int(part_groups[split].nunique()) for split in parts},
        unseen_class_rows=unseen,
        largest_group_share={
            split: round(float(part_groups[split].value_counts(normalize=True).iloc[0]), 4)
            for split in parts
        },
    )
