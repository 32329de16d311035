"""An untrained network behind a real predictor: the plumbing is under test, not the accuracy."""

from __future__ import annotations

from prodcat.core.calibration import Calibration
from prodcat.core.model import Architecture, build_model
from prodcat.core.text import OOV_TOKEN, PAD_TOKEN, build_vectorizer
from prodcat.serving.predictor import Predictor

LABELS = ("bags", "shoes", "tops")
VOCABULARY = [PAD_TOKEN, OOV_TOKEN, "red", "boots", "tote", "bag", "shirt"]
VOCABULARY += [f"word{i}" for i in range(30 - len(VOCABULARY))]


def tiny_predictor(calibration: Calibration | None = None) -> Predictor:
    model = build_model(
        Architecture(
            vocabulary_size=len(VOCABULARY),
            sequence_length=6,
            num_classes=len(LABELS),
            embedding_dim=8,
            lstm_units=8,
            dropout=0.0,
            attention="self",
            pooling="attention",
            attention_heads=2,
        )
    )
    vectorizer = build_vectorizer(VOCABULARY, sequence_length=6)
    return Predictor(model, vectorizer, LABELS, calibration or Calibration())
