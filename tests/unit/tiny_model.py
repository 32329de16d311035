"""An untrained network behind a real predictor: the plumbing is under test, not the accuracy.

Both paths and subwords, as the default model has them: the wide path's TF-IDF is fitted on a
few titles (its weights stay random), subwords hash into a small table.
"""

from __future__ import annotations

import keras

from prodcat.core.baseline import build_baseline
from prodcat.core.calibration import Calibration
from prodcat.core.config import BaselineConfig
from prodcat.core.features import FeatureEncoder, SubwordSettings, WideFeatures
from prodcat.core.model import Architecture, build_model
from prodcat.core.text import OOV_TOKEN, PAD_TOKEN, build_vectorizer
from prodcat.serving.predictor import Predictor

LABELS = ("bags", "shoes", "tops")
VOCABULARY = [PAD_TOKEN, OOV_TOKEN, "red", "boots", "tote", "bag", "shirt"]
VOCABULARY += [f"word{i}" for i in range(30 - len(VOCABULARY))]
TITLES = ["red leather boots", "canvas tote bag", "cotton shirt", "red tote", "ankle boots"]
SEQUENCE_LENGTH = 6
SUBWORDS = SubwordSettings(min_n=3, max_n=5, buckets=64, per_word=8)


def tiny_wide() -> WideFeatures:
    union = build_baseline(BaselineConfig()).named_steps["tfidf"]
    return WideFeatures.from_union(union.fit(TITLES))


def tiny_encoder(wide: bool = True, subwords: bool = True, deep: bool = True) -> FeatureEncoder:
    return FeatureEncoder(
        build_vectorizer(VOCABULARY, sequence_length=SEQUENCE_LENGTH),
        SUBWORDS if subwords else None,
        tiny_wide() if wide else None,
        deep=deep,
    )


def tiny_architecture(encoder: FeatureEncoder, **changes: object) -> Architecture:
    fields = {
        "vocabulary_size": len(VOCABULARY),
        "sequence_length": SEQUENCE_LENGTH,
        "num_classes": len(LABELS),
        "embedding_dim": 8,
        "lstm_units": 8,
        "dropout": 0.0,
        "attention": "self",
        "pooling": "attention",
        "attention_heads": 2,
        "subword_buckets": encoder.subwords.buckets if encoder.subwords else 0,
        "subwords_per_word": encoder.subwords.per_word if encoder.subwords else 0,
        "wide_features": encoder.wide.size if encoder.wide else 0,
        "deep": encoder.deep,
    }
    return Architecture(**{**fields, **changes})


def tiny_network(encoder: FeatureEncoder, **changes: object) -> keras.Model:
    return build_model(tiny_architecture(encoder, **changes))


def tiny_predictor(calibration: Calibration | None = None) -> Predictor:
    encoder = tiny_encoder()
    return Predictor(tiny_network(encoder), encoder, LABELS, calibration or Calibration())
