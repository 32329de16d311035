"""Reading what ``prepare`` and ``baseline`` hand to the stages after them, as model inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prodcat.core.features import (
    SUBWORD_IDS,
    WIDE_FEATURES,
    WORD_IDS,
    FeatureEncoder,
    SplitData,
    SubwordSettings,
    WideFeatures,
)
from prodcat.core.text import read_vocabulary
from prodcat.io import layout
from prodcat.io.files import read_encoded, read_json


def split_texts(split: str) -> list[str]:
    """The normalised titles of one split."""
    frame = pd.read_csv(layout.split_texts(split), dtype=str, keep_default_na=False)
    return frame["text"].tolist()


def read_split(split: str, wide: WideFeatures | None = None) -> SplitData:
    """One split's word ids, subword ids (if prepared) and labels, memory-mapped; with
    ``wide``, also its TF-IDF features, computed from its titles."""
    word_ids, label_ids = read_encoded(layout.split_arrays(split), memory_map=True)
    inputs = {WORD_IDS: word_ids}
    if layout.split_subwords(split).is_file():
        inputs[SUBWORD_IDS] = np.load(layout.split_subwords(split), mmap_mode="r")
    if wide is not None:
        inputs[WIDE_FEATURES] = wide.transform(split_texts(split))
    return SplitData(inputs, label_ids)


def read_subwords() -> SubwordSettings | None:
    """The subword settings ``prepare`` encoded the splits with (None: no subwords)."""
    settings = read_json(layout.SUBWORDS)
    return SubwordSettings(**settings) if settings else None


def read_wide() -> tuple[WideFeatures, tuple[np.ndarray, np.ndarray]]:
    """The fitted baseline as the wide path: its TF-IDF state and its linear weights."""
    coefficients, intercepts = (np.load(path, allow_pickle=False) for path in layout.WIDE_WEIGHTS)
    return WideFeatures.from_dict(read_json(layout.WIDE_FEATURES)), (coefficients, intercepts)


def read_encoder(features: Path = layout.FEATURES) -> FeatureEncoder:
    """The trained model's feature encoder, from the state ``train`` wrote beside it."""
    return FeatureEncoder.from_state(read_json(features), read_vocabulary(layout.VOCABULARY))
