"""Stage ``evaluate``: score the trained model on the test split; DVC metrics, plots and MLflow."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd

from prodcat import layout
from prodcat.config import EvaluateConfig, load_section
from prodcat.data import read_encoded
from prodcat.explain import Explanation, attention_explainer, explanations
from prodcat.files import atomic_path, read_json, write_json
from prodcat.metrics import (
    class_distribution,
    confusion_rows,
    flat_slice_metrics,
    most_confused_pairs,
    per_class_f1,
    score,
    slice_scores,
)
from prodcat.model import load_model
from prodcat.plots import (
    attention_heatmap,
    class_distribution_figure,
    confusion_figure,
    per_class_f1_figure,
    training_curves,
)
from prodcat.text import normalize_text, read_labels, vocabulary_slices
from prodcat.tracking import resumed_run

logger = logging.getLogger(__name__)


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


def attention_sample(label_ids: np.ndarray, predicted_ids: np.ndarray, per_kind: int) -> np.ndarray:
    """Row numbers of the first ``per_kind`` right and first ``per_kind`` wrong test items.

    Fixed by the test split's order, so the same items are shown run after run.
    """
    right = np.flatnonzero(label_ids == predicted_ids)[:per_kind]
    wrong = np.flatnonzero(label_ids != predicted_ids)[:per_kind]
    return np.concatenate([right, wrong])


def explain_sample(
    model: keras.Model,
    token_ids: np.ndarray,
    texts: Sequence[str],
    rows: np.ndarray,
    labels: Sequence[str],
) -> list[Explanation]:
    """The attention of the model over the chosen test items."""
    chosen = [texts[row] for row in rows]
    probabilities, weights = attention_explainer(model)(token_ids[rows])
    normalized = [normalize_text(text) for text in chosen]
    return explanations(chosen, normalized, token_ids[rows], probabilities, weights, labels)


def main(params_path: Path) -> None:
    config = load_section(EvaluateConfig, "evaluate", params_path)
    labels = read_labels(layout.LABELS)
    token_ids, label_ids = read_encoded(layout.split_arrays("test"))
    texts = pd.read_csv(layout.split_texts("test"), dtype=str, keep_default_na=False)["text"]
    model = load_model(layout.MODEL)
    logger.info("scoring %d test items", len(label_ids))
    probabilities = model.predict(token_ids, batch_size=config.batch_size, verbose=0)
    predicted_ids = probabilities.argmax(axis=1)
    scores = score(label_ids, probabilities, labels)
    slices = slice_scores(label_ids, predicted_ids, vocabulary_slices(token_ids))
    summary = with_baseline(scores.headline, slices, read_json(layout.BASELINE))
    f1_table = per_class_f1(scores.per_class)
    pairs = pd.DataFrame(
        most_confused_pairs(scores.confusion, labels, config.confused_pairs),
        columns=["actual", "predicted", "count", "share_of_actual"],
    )
    distribution = class_distribution(
        {split: read_encoded(layout.split_arrays(split))[1] for split in layout.SPLITS}, labels
    )
    sample_rows = attention_sample(label_ids, predicted_ids, config.attention_examples)
    sample = explain_sample(model, token_ids, texts.tolist(), sample_rows, labels)
    sample_truth = [labels[label_ids[row]] for row in sample_rows]
    figures = {
        "confusion_matrix.png": confusion_figure(scores.confusion, labels),
        "per_class_f1.png": per_class_f1_figure(f1_table),
        "class_distribution.png": class_distribution_figure(distribution),
        "training_curves.png": training_curves(pd.read_csv(layout.HISTORY)),
        "attention.png": attention_heatmap(sample, sample_truth),
    }

    with resumed_run(read_json(layout.TRAINING_RUN)["run_id"]):
        mlflow.log_metrics({f"test_{key}": value for key, value in scores.headline.items()})
        mlflow.log_metrics(
            {f"baseline_test_{key}": summary["baseline"][key] for key in ("accuracy", "macro_f1")}
        )
        mlflow.log_metrics(flat_slice_metrics("test_", slices))
        mlflow.log_metrics(flat_slice_metrics("baseline_test_", summary["baseline"]["slices"]))
        mlflow.log_dict(scores.per_class, "evaluation/per_class.json")
        mlflow.log_table(pairs, "evaluation/confused_pairs.json")
        mlflow.log_table(distribution, "evaluation/class_distribution.json")
        mlflow.log_dict(
            [
                item.as_dict() | {"actual": truth}
                for item, truth in zip(sample, sample_truth, strict=True)
            ],
            "evaluation/attention_sample.json",
        )
        write_json(summary, layout.METRICS)
        write_json(scores.per_class, layout.PER_CLASS)
        for table, path in (
            (pd.DataFrame(confusion_rows(label_ids, predicted_ids, labels)), layout.CONFUSION),
            (f1_table, layout.PER_CLASS_F1),
            (pairs, layout.CONFUSED_PAIRS),
            (distribution, layout.CLASS_DISTRIBUTION),
        ):
            with atomic_path(path) as temporary:
                table.to_csv(temporary, index=False)
        with atomic_path(layout.PLOTS_DIR) as temporary:
            temporary.mkdir(parents=True)
            for name, figure in figures.items():
                figure.savefig(temporary / name, dpi=100)
        # The files just written, not the figures drawn a second time (about 5 s on Myntra).
        mlflow.log_artifacts(str(layout.PLOTS_DIR), "evaluation")
    logger.info("test metrics: %s", summary)
    if len(pairs):
        top = pairs.iloc[0]
        logger.info("most confused: %s → %s (%d times)", top.actual, top.predicted, top["count"])
