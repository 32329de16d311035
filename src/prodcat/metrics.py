"""Test-set scores from labels and predicted probabilities, all computed by scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    log_loss,
)


@dataclass(frozen=True)
class Scores:
    """Headline metrics (for ``dvc metrics`` and MLflow) and the per-class detail behind them."""

    headline: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion: np.ndarray


def score(label_ids: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]) -> Scores:
    predicted = probabilities.argmax(axis=1)
    classes = list(range(len(labels)))
    headline = {
        "accuracy": accuracy_score(label_ids, predicted),
        "macro_f1": f1_score(
            label_ids, predicted, average="macro", labels=classes, zero_division=0
        ),
        "weighted_f1": f1_score(
            label_ids, predicted, average="weighted", labels=classes, zero_division=0
        ),
        "loss": log_loss(label_ids, probabilities, labels=classes),
    }
    report: dict[str, Any] = classification_report(
        label_ids,
        predicted,
        labels=classes,
        target_names=list(labels),
        output_dict=True,
        zero_division=0,
    )
    per_class = {
        name: {key: round(float(value), 6) for key, value in report[name].items()}
        for name in labels
    }
    return Scores(
        headline={key: round(float(value), 6) for key, value in headline.items()},
        per_class=per_class,
        confusion=confusion_matrix(label_ids, predicted, labels=classes),
    )


def label_scores(actual: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Accuracy and F1 from category names, for models whose label ids may not line up."""
    return {
        "accuracy": round(float(accuracy_score(actual, predicted)), 6),
        "macro_f1": round(float(f1_score(actual, predicted, average="macro", zero_division=0)), 6),
        "weighted_f1": round(
            float(f1_score(actual, predicted, average="weighted", zero_division=0)), 6
        ),
    }


def confusion_rows(
    label_ids: np.ndarray, predicted_ids: np.ndarray, labels: Sequence[str]
) -> list[dict[str, str]]:
    """One ``{actual, predicted}`` row per test item: the input of DVC's confusion template."""
    return [
        {"actual": labels[a], "predicted": labels[p]}
        for a, p in zip(label_ids, predicted_ids, strict=True)
    ]


def confusion_figure(confusion: np.ndarray, labels: Sequence[str]):  # -> matplotlib Figure
    """The confusion matrix as a picture, for the MLflow run page."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(6.0, 0.35 * len(labels) + 3)
    figure, axes = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(confusion, display_labels=list(labels)).plot(
        ax=axes, xticks_rotation="vertical", colorbar=False, include_values=len(labels) <= 30
    )
    axes.set_title("Test confusion matrix")
    figure.tight_layout()
    return figure
