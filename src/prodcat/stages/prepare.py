"""Stage ``prepare``: catalog CSV → cleaned, stratified, encoded splits and a data report."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import LabelEncoder

from prodcat import layout
from prodcat.config import PrepareConfig, load_section
from prodcat.data import (
    LABEL,
    TEXT,
    Splits,
    clean_catalog,
    file_md5,
    read_catalog,
    split_catalog,
    write_array,
)
from prodcat.files import atomic_path, write_json
from prodcat.text import (
    build_vectorizer,
    choose_sequence_length,
    encode_texts,
    fit_vocabulary,
    length_statistics,
    unknown_token_share,
    write_labels,
    write_vocabulary,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedData:
    """Everything the stage writes, computed without touching the disk."""

    splits: Splits
    vocabulary: list[str]
    labels: list[str]
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]
    report: dict[str, Any]


def prepare_catalog(frame: pd.DataFrame, config: PrepareConfig, source: str) -> PreparedData:
    """Clean, split, fit the label encoder and vocabulary on train only, and encode every split."""
    cleaned, counts = clean_catalog(
        frame, config.min_class_count, source, drop_duplicates=config.drop_duplicates
    )
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
    report = {
        "source": {"path": source, "rows": counts.rows_read},
        "params": dataclasses.asdict(config),
        "dropped": {
            "empty_text": counts.empty_text,
            "missing_label": counts.missing_label,
            "duplicates": counts.duplicates,
            "rare_class_rows": counts.rare_class_rows,
            "rare_classes": list(counts.rare_classes),
        },
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
    return PreparedData(splits, vocabulary, list(map(str, encoder.classes_)), arrays, report)


def write_prepared(prepared: PreparedData, source_md5: str) -> None:
    """Write every output to a temporary name first, so a crash leaves no half-written file."""
    for name, split in prepared.splits.items():
        with atomic_path(layout.split_texts(name)) as temporary:
            split.to_csv(temporary, index=False)
        for path, array in zip(layout.split_arrays(name), prepared.arrays[name], strict=True):
            with atomic_path(path) as temporary:
                write_array(array, temporary)
    with atomic_path(layout.VOCABULARY) as temporary:
        write_vocabulary(prepared.vocabulary, temporary)
    with atomic_path(layout.LABELS) as temporary:
        write_labels(prepared.labels, temporary)
    report = {**prepared.report, "source": {**prepared.report["source"], "md5": source_md5}}
    write_json(report, layout.DATA_REPORT)


def main(params_path: Path) -> None:
    config = load_section(PrepareConfig, "prepare", params_path)
    source = Path(config.path)
    frame = read_catalog(source, config.text_column, config.label_column, config.encoding)
    logger.info("cleaning, splitting and encoding %d rows", len(frame))
    prepared = prepare_catalog(frame, config, source=str(source))
    logger.info("writing %s", layout.PREPARED_DIR)
    write_prepared(prepared, file_md5(source))
    report = prepared.report
    logger.info(
        "prepared %d of %d rows in %d classes (train %d, val %d, test %d); dropped %s; "
        "sequence length %d",
        report["rows"]["kept"],
        report["source"]["rows"],
        report["classes"],
        report["rows"]["train"],
        report["rows"]["val"],
        report["rows"]["test"],
        {k: v for k, v in report["dropped"].items() if k != "rare_classes"},
        report["tokens"]["sequence_length"],
    )
