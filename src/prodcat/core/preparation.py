"""From a catalog frame to what training needs: cleaned, split, label-encoded, and encoded into
word ids and subword ids (the deep path's inputs; the wide path's TF-IDF is the baseline's).

Pure: the ``prepare`` stage reads the CSV and writes what this returns.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import LabelEncoder

from prodcat.core.catalog import LABEL, TEXT, Splits, clean_catalog, group_split, split_catalog
from prodcat.core.config import PrepareConfig
from prodcat.core.features import SubwordSettings
from prodcat.core.text import (
    build_vectorizer,
    choose_sequence_length,
    encode_texts,
    fit_vocabulary,
    length_statistics,
    unknown_token_share,
)


@dataclass(frozen=True)
class PreparedData:
    """Everything the stage writes, computed without touching the disk."""

    splits: Splits
    vocabulary: list[str]
    labels: list[str]
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]  # word ids and label ids per split
    report: dict[str, Any]
    subwords: SubwordSettings | None = None  # None: prepare.subword_buckets is 0
    subword_ids: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def subword_settings(config: PrepareConfig) -> SubwordSettings | None:
    """The ``prepare`` section's subword settings, None when they are off."""
    if not config.subword_buckets:
        return None
    return SubwordSettings(
        config.subword_min_n, config.subword_max_n, config.subword_buckets, config.subwords_per_word
    )


def prepare_catalog(frame: pd.DataFrame, config: PrepareConfig, source: str) -> PreparedData:
    """Clean, split, fit the label encoder and vocabulary on train only, and encode every split."""
    cleaned, counts = clean_catalog(
        frame,
        config.min_class_count,
        source,
        drop_duplicates=config.drop_duplicates,
        merge_variants=config.merge_label_variants,
        max_title_chars=config.max_title_chars,
    )
    split_report: dict[str, Any] = {"kind": config.split}
    unseen_class_rows = {"val": 0, "test": 0}
    if config.split == "group":
        grouped = group_split(
            cleaned,
            config.val_fraction,
            config.test_fraction,
            config.seed,
            config.group_pattern,
            source=source,
        )
        splits, unseen_class_rows = grouped.splits, grouped.unseen_class_rows
        split_report.update(
            groups=grouped.groups,
            largest_group_share=grouped.largest_group_share,
        )
    else:
        splits = split_catalog(
            cleaned, config.val_fraction, config.test_fraction, config.seed, source=source
        )
    encoder = LabelEncoder().fit(splits.train[LABEL].to_numpy(dtype=object))
    train_texts = splits.train[TEXT].tolist()
    vocabulary = fit_vocabulary(train_texts, config.max_tokens, config.min_token_count)
    sequence_length = choose_sequence_length(
        train_texts, config.length_percentile, config.max_length_cap
    )
    vectorizer = build_vectorizer(vocabulary, sequence_length)
    arrays = {
        name: (
            encode_texts(vectorizer, split[TEXT].tolist()),
            encoder.transform(split[LABEL].to_numpy(dtype=object)).astype(np.int32),
        )
        for name, split in splits.items()
    }
    subwords = subword_settings(config)
    subword_ids = {
        name: subwords.encode(split[TEXT].tolist(), sequence_length)
        for name, split in splits.items()
        if subwords is not None
    }
    report = {
        "source": {"path": source, "rows": counts.rows_read},
        "params": dataclasses.asdict(config),
        "dropped": {
            "empty_text": counts.empty_text,
            "missing_label": counts.missing_label,
            "duplicates": counts.duplicates,
            "rare_class_rows": counts.rare_class_rows,
            "rare_classes": list(counts.rare_classes),
            "unseen_class_rows": unseen_class_rows,
        },
        "split": split_report,
        "cut_titles": counts.cut_titles,
        "labels": {
            "merged": list(counts.label_merges),
            "lookalikes": list(counts.label_lookalikes),
        },
        "conflicting_titles": counts.conflicting_titles,
        "rows": {"kept": counts.rows_kept, **{name: len(split) for name, split in splits.items()}},
        "classes": len(encoder.classes_),
        "class_counts": {str(k): int(v) for k, v in cleaned[LABEL].value_counts().items()},
        "tokens": {
            "vocabulary_size": len(vocabulary),
            "sequence_length": sequence_length,
            "train_length": length_statistics(train_texts),
            "truncated_train_texts": int(
                sum(len(t.split()) > sequence_length for t in train_texts)
            ),
            "unknown_share": {
                name: round(unknown_token_share(token_ids), 4)
                for name, (token_ids, _) in arrays.items()
            },
        },
    }
    labels = list(map(str, encoder.classes_))
    return PreparedData(splits, vocabulary, labels, arrays, report, subwords, subword_ids)
