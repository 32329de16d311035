"""Test-set scores from labels and predicted probabilities, all computed by scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
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
    # F1 averages over the classes the test split holds or the model predicts, as scikit-learn
    # does by default and as the baseline is scored: a class with neither (a group split can
    # leave one out of test) has no F1 to count, not an F1 of zero.
    scored = np.union1d(label_ids, predicted)
    headline = {
        "accuracy": accuracy_score(label_ids, predicted),
        "macro_f1": f1_score(label_ids, predicted, average="macro", labels=scored, zero_division=0),
        "weighted_f1": f1_score(
            label_ids, predicted, average="weighted", labels=scored, zero_division=0
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


def slice_scores(
    actual: Sequence[Any], predicted: Sequence[Any], slices: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Rows and accuracy of each slice of the rows (a boolean mask over them).

    Works on label ids or category names alike; an empty slice has no accuracy.
    """
    actual_array, predicted_array = np.asarray(actual), np.asarray(predicted)
    scores: dict[str, dict[str, float]] = {}
    for name, in_slice in slices.items():
        rows = int(np.count_nonzero(in_slice))
        scores[name] = {"rows": rows}
        if rows:
            accuracy = accuracy_score(actual_array[in_slice], predicted_array[in_slice])
            scores[name]["accuracy"] = round(float(accuracy), 6)
    return scores


def flat_slice_metrics(prefix: str, slices: dict[str, dict[str, float]]) -> dict[str, float]:
    """``{prefix}slice_{name}_{score}`` for MLflow, whose metrics are flat."""
    return {
        f"{prefix}slice_{name}_{key}": value
        for name, scores in slices.items()
        for key, value in scores.items()
    }


def confusion_rows(
    label_ids: np.ndarray, predicted_ids: np.ndarray, labels: Sequence[str]
) -> list[dict[str, str]]:
    """One ``{actual, predicted}`` row per test item: the input of DVC's confusion template."""
    return [
        {"actual": labels[a], "predicted": labels[p]}
        for a, p in zip(label_ids, predicted_ids, strict=True)
    ]


def most_confused_pairs(
    confusion: np.ndarray, labels: Sequence[str], count: int = 10
) -> list[dict[str, object]]:
    """The ``count`` most frequent (true, predicted) mistakes, most frequent first."""
    mistakes = confusion.copy()
    np.fill_diagonal(mistakes, 0)
    actual, predicted = np.unravel_index(
        np.argsort(-mistakes, axis=None, kind="stable"), mistakes.shape
    )
    totals = confusion.sum(axis=1)
    pairs = []
    for a, p in zip(actual[:count], predicted[:count], strict=True):
        if mistakes[a, p] == 0:
            break
        pairs.append(
            {
                "actual": labels[a],
                "predicted": labels[p],
                "count": int(mistakes[a, p]),
                "share_of_actual": round(float(mistakes[a, p] / totals[a]), 6),
            }
        )
    return pairs


def per_class_f1(per_class: dict[str, dict[str, float]]) -> pd.DataFrame:
    """``category, f1, support``, weakest class first: the data of the per-class F1 bar chart.
    Classes without a test item are left out: their F1 says nothing about the model."""
    frame = pd.DataFrame(
        {
            "category": list(per_class),
            "f1": [scores["f1-score"] for scores in per_class.values()],
            "support": [int(scores["support"]) for scores in per_class.values()],
        }
    )
    frame = frame[frame["support"] > 0]
    return frame.sort_values(["f1", "category"], kind="stable").reset_index(drop=True)


def class_distribution(
    label_ids_by_split: dict[str, np.ndarray], labels: Sequence[str]
) -> pd.DataFrame:
    """Rows per class in each split: ``category`` and one column per split."""
    counts = {
        split: np.bincount(label_ids, minlength=len(labels))
        for split, label_ids in label_ids_by_split.items()
    }
    return pd.DataFrame({"category": list(labels), **counts})


def with_baseline(
    headline: dict[str, float], slices: dict[str, dict[str, float]], baseline: dict
) -> dict:
    """The model's scores, the baseline's, and the model's lift over it, for ``dvc metrics``;
    each with its accuracy on the slices of the test rows."""
    compared = ("accuracy", "macro_f1")
    return {
        **headline,
        "slices": slices,
        "baseline": {**{key: baseline[key] for key in compared}, "slices": baseline["slices"]},
        "lift": {key: round(headline[key] - baseline[key], 6) for key in compared},
    }


def headline_metrics(summary: dict) -> dict[str, float]:
    """The few numbers ``dvc metrics show`` and ``dvc exp show`` put first: the model's, the
    baseline's, the lift, the share of test titles auto-accepted (``coverage``) and the
    calibration error (``ece``), flat. The detail stays in the evaluation report."""
    return {
        "accuracy": summary["accuracy"],
        "macro_f1": summary["macro_f1"],
        **{f"baseline_{key}": summary["baseline"][key] for key in ("accuracy", "macro_f1")},
        **{f"lift_{key}": value for key, value in summary["lift"].items()},
        **{key: summary[key] for key in ("coverage", "ece") if key in summary},
    }
