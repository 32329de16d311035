"""Everything ``evaluate`` reports about a trained network on the test split, computed in memory.

Scores beside the baseline's, per-class and confusion tables, the class distribution of the
splits, the attention over a fixed sample of test items, the calibration fitted on the
validation split with what it does on test, the reference statistics drift is judged against,
and the figures drawn from them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from prodcat.core.calibration import Calibration, calibrate, calibration_report, triage_sentence
from prodcat.core.config import EvaluateConfig
from prodcat.core.drift import reference_statistics
from prodcat.core.explain import Explanation, attention_sample, explain_sample
from prodcat.core.features import FeatureEncoder
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
    coverage_figure,
    per_class_f1_figure,
    reliability_figure,
    training_curves,
)
from prodcat.core.text import vocabulary_slices

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """The test report: ``summary`` for the metrics files, the rest for tables and pictures."""

    summary: dict
    per_class: dict[str, dict[str, float]]
    tables: dict[str, pd.DataFrame]  # confusion, per_class_f1, confused_pairs, distribution
    sample: list[Explanation]
    sample_truth: list[str]
    figures: dict[str, Figure]  # file name → figure
    calibration: Calibration
    reference: dict  # the drift reference: see core.drift.reference_statistics


def evaluate(
    model: keras.Model,
    test: tuple[np.ndarray, np.ndarray],
    texts: Sequence[str],
    labels: Sequence[str],
    split_label_ids: Mapping[str, np.ndarray],
    baseline: dict,
    history: pd.DataFrame,
    config: EvaluateConfig,
    val: tuple[np.ndarray, np.ndarray],
    val_texts: Sequence[str],
    known_words: frozenset[str],
    encoder: FeatureEncoder,
) -> Evaluation:
    """Score ``model`` on the test titles, beside the baseline's scores on the same rows.

    The model reads ``texts`` (normalised) through ``encoder``, as the served model does;
    ``test`` and ``val`` hold the prepared word ids (for the slices) and label ids. ``val``
    fits the calibration; with ``val_texts`` and the vocabulary's ``known_words`` it gives the
    drift reference.
    """
    token_ids, label_ids = test
    inputs = encoder.encode(texts)
    probabilities = model.predict(inputs, batch_size=config.batch_size, verbose=0)
    val_probabilities = model.predict(
        encoder.encode(val_texts), batch_size=config.batch_size, verbose=0
    )
    calibration = calibrate(val_probabilities, val[1], config.target_precision)
    if not calibration.reached:
        logger.warning(
            "no review threshold reaches evaluate.target_precision %.4f on validation: every "
            "prediction goes to review",
            config.target_precision,
        )
    calibrated_summary, calibration_tables = calibration_report(
        probabilities, label_ids, calibration
    )
    logger.info("calibration: %s", triage_sentence(calibrated_summary))
    val_calibrated = calibration.probabilities(val_probabilities)
    val_confidence = val_calibrated.max(axis=1)
    reference = reference_statistics(
        val_texts,
        known_words,
        [labels[best] for best in val_calibrated.argmax(axis=1)],
        val_confidence,
        calibration.needs_review(val_confidence),
        labels,
    )
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
    sample = explain_sample(model, inputs, texts, rows, labels)
    truth = [labels[label_ids[row]] for row in rows]
    summary = {
        **with_baseline(scores.headline, slices, baseline),
        "coverage": calibrated_summary["coverage"],
        "accepted_accuracy": calibrated_summary["accepted_accuracy"],
        "ece": calibrated_summary["ece_after"],
        "calibration": calibrated_summary,
    }
    return Evaluation(
        summary=summary,
        per_class=scores.per_class,
        tables={
            "confusion": pd.DataFrame(confusion_rows(label_ids, predicted_ids, labels)),
            "per_class_f1": f1_table,
            "confused_pairs": pairs,
            "class_distribution": distribution,
            "reliability": calibration_tables["reliability"],
            "coverage": calibration_tables["coverage"],
        },
        sample=sample,
        sample_truth=truth,
        figures={
            "confusion_matrix.png": confusion_figure(scores.confusion, labels),
            "per_class_f1.png": per_class_f1_figure(f1_table),
            "class_distribution.png": class_distribution_figure(distribution),
            "training_curves.png": training_curves(history),
            "attention.png": attention_heatmap(sample, truth),
            "reliability.png": reliability_figure(
                calibration_tables["reliability_before"],
                calibration_tables["reliability"],
                (calibrated_summary["ece_before"], calibrated_summary["ece_after"]),
            ),
            "coverage.png": coverage_figure(
                calibration_tables["coverage"],
                calibration.threshold,
                calibrated_summary["coverage"],
                calibrated_summary["accepted_accuracy"],
            ),
        },
        calibration=calibration,
        reference=reference,
    )
