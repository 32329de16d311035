"""Everything ``evaluate`` reports about a trained network on the test split, computed in memory.

Scores beside the baseline's, per-class and confusion tables, the class distribution of the
splits, the attention over a fixed sample of test items, and the figures drawn from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from prodcat.core.config import EvaluateConfig
from prodcat.core.explain import Explanation, attention_sample, explain_sample
from prodcat.core.metrics import (
    class_distribution,
    confusion_rows,
    most_confused_pairs,
    per_class_f1,
    score,
    slice_scores,
    with_baseline,
)
from prodcat.core.plots import (
    attention_heatmap,
    class_distribution_figure,
    confusion_figure,
    per_class_f1_figure,
    training_curves,
)
from prodcat.core.text import vocabulary_slices


@dataclass(frozen=True)
class Evaluation:
    """The test report: ``summary`` for the metrics files, the rest for tables and pictures."""

    summary: dict
    per_class: dict[str, dict[str, float]]
    tables: dict[str, pd.DataFrame]  # confusion, per_class_f1, confused_pairs, distribution
    sample: list[Explanation]
    sample_truth: list[str]
    figures: dict[str, Figure]  # file name → figure


def evaluate(
    model: keras.Model,
    test: tuple[np.ndarray, np.ndarray],
    texts: Sequence[str],
    labels: Sequence[str],
    split_label_ids: Mapping[str, np.ndarray],
    baseline: dict,
    history: pd.DataFrame,
    config: EvaluateConfig,
) -> Evaluation:
    """Score ``model`` on the test ids and labels, beside the baseline's scores on the same rows."""
    token_ids, label_ids = test
    probabilities = model.predict(token_ids, batch_size=config.batch_size, verbose=0)
    predicted_ids = probabilities.argmax(axis=1)
    scores = score(label_ids, probabilities, labels)
    slices = slice_scores(label_ids, predicted_ids, vocabulary_slices(token_ids))
    f1_table = per_class_f1(scores.per_class)
    pairs = pd.DataFrame(
        most_confused_pairs(scores.confusion, labels, config.confused_pairs),
        columns=["actual", "predicted", "count", "share_of_actual"],
    )
    distribution = class_distribution(dict(split_label_ids), labels)
    rows = attention_sample(label_ids, predicted_ids, config.attention_examples)
    sample = explain_sample(model, token_ids, texts, rows, labels)
    truth = [labels[label_ids[row]] for row in rows]
    return Evaluation(
        summary=with_baseline(scores.headline, slices, baseline),
        per_class=scores.per_class,
        tables={
            "confusion": pd.DataFrame(confusion_rows(label_ids, predicted_ids, labels)),
            "per_class_f1": f1_table,
            "confused_pairs": pairs,
            "class_distribution": distribution,
        },
        sample=sample,
        sample_truth=truth,
        figures={
            "confusion_matrix.png": confusion_figure(scores.confusion, labels),
            "per_class_f1.png": per_class_f1_figure(f1_table),
            "class_distribution.png": class_distribution_figure(distribution),
            "training_curves.png": training_curves(history),
            "attention.png": attention_heatmap(sample, truth),
        },
    )
