"""Stage ``evaluate``: score the trained model on the test split; DVC metrics, plots and MLflow."""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import pandas as pd

from prodcat import layout
from prodcat.config import EvaluateConfig, load_section
from prodcat.data import read_encoded
from prodcat.files import atomic_path, read_json, write_json
from prodcat.metrics import confusion_figure, confusion_rows, score
from prodcat.model import load_model
from prodcat.text import read_labels
from prodcat.tracking import resumed_run

logger = logging.getLogger(__name__)


def with_baseline(headline: dict[str, float], baseline: dict[str, float]) -> dict:
    """The model's scores, the baseline's, and the model's lift over it, for ``dvc metrics``."""
    compared = ("accuracy", "macro_f1")
    return {
        **headline,
        "baseline": {key: baseline[key] for key in compared},
        "lift": {key: round(headline[key] - baseline[key], 6) for key in compared},
    }


def main(params_path: Path) -> None:
    config = load_section(EvaluateConfig, "evaluate", params_path)
    labels = read_labels(layout.LABELS)
    token_ids, label_ids = read_encoded(layout.split_arrays("test"))
    model = load_model(layout.MODEL)
    probabilities = model.predict(token_ids, batch_size=config.batch_size, verbose=0)
    scores = score(label_ids, probabilities, labels)
    figure = confusion_figure(scores.confusion, labels)
    baseline = read_json(layout.BASELINE)
    summary = with_baseline(scores.headline, baseline)
    with resumed_run(read_json(layout.TRAINING_RUN)["run_id"]):
        mlflow.log_metrics({f"test_{key}": value for key, value in scores.headline.items()})
        mlflow.log_metrics(
            {f"baseline_test_{key}": baseline[key] for key in ("accuracy", "macro_f1")}
        )
        mlflow.log_dict(scores.per_class, "evaluation/per_class.json")
        mlflow.log_figure(figure, "evaluation/confusion_matrix.png")
        write_json(summary, layout.METRICS)
        write_json(scores.per_class, layout.PER_CLASS)
        with atomic_path(layout.CONFUSION) as temporary:
            rows = confusion_rows(label_ids, probabilities.argmax(axis=1), labels)
            pd.DataFrame(rows).to_csv(temporary, index=False)
        with atomic_path(layout.CONFUSION_IMAGE) as temporary:
            figure.savefig(temporary, dpi=100)
    logger.info("test metrics: %s", summary)
