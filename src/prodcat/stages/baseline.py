"""Stage ``baseline``: TF-IDF + LinearSVC on the prepared split, scored as the network will be;
its TF-IDF state and weights are written for ``train``, whose wide path it is."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from prodcat.core.baseline import fit_and_score
from prodcat.core.config import BaselineConfig
from prodcat.core.text import read_labels, vocabulary_slices
from prodcat.io import layout
from prodcat.io.files import atomic_path, read_encoded, write_array, write_json
from prodcat.io.params import load_section

logger = logging.getLogger(__name__)


def main(params_path: Path) -> None:
    config = load_section(BaselineConfig, "baseline", params_path)
    train, val, test = (
        pd.read_csv(layout.split_texts(split), dtype=str, keep_default_na=False)
        for split in layout.SPLITS
    )
    test_token_ids = read_encoded(layout.split_arrays("test"), memory_map=True)[0]
    fitted = fit_and_score(config, train, val, test, vocabulary_slices(test_token_ids))
    weights = fitted.linear_weights(read_labels(layout.LABELS))
    with atomic_path(layout.BASELINE_DIR) as temporary:
        temporary.mkdir(parents=True)
        write_json(fitted.wide_features().as_dict(), temporary / layout.WIDE_FEATURES.name)
        for path, array in zip(layout.WIDE_WEIGHTS, weights, strict=True):
            write_array(array, temporary / path.name)
    write_json(fitted.scores, layout.BASELINE)
    logger.info("baseline (TF-IDF + LinearSVC) test scores: %s", fitted.scores)
