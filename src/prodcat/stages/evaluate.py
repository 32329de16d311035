"""Stage ``evaluate``: score the trained network on the test split beside the baseline, calibrate
it on the validation split; write the DVC metrics, tables and plots, log them to the training
run, and write the calibration and drift reference that export ships with the model."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from prodcat.core.calibration import triage_sentence
from prodcat.core.config import EvaluateConfig
from prodcat.core.evaluation import evaluate
from prodcat.core.metrics import headline_metrics
from prodcat.core.model import load_model
from prodcat.core.text import known_words, read_labels, read_vocabulary
from prodcat.io import layout
from prodcat.io.files import atomic_path, read_encoded, read_json, write_json
from prodcat.io.params import load_section
from prodcat.io.prepared import read_encoder, split_texts
from prodcat.io.tracking import log_evaluation, resumed_run

logger = logging.getLogger(__name__)


def main(params_path: Path) -> None:
    config = load_section(EvaluateConfig, "evaluate", params_path)
    labels = read_labels(layout.LABELS)
    test = read_encoded(layout.split_arrays("test"))
    texts = {split: split_texts(split) for split in ("val", "test")}
    logger.info("scoring %d test items", len(test[1]))
    evaluation = evaluate(
        load_model(layout.MODEL),
        test,
        texts["test"],
        labels,
        {split: read_encoded(layout.split_arrays(split))[1] for split in layout.SPLITS},
        read_json(layout.BASELINE),
        pd.read_csv(layout.HISTORY),
        config,
        read_encoded(layout.split_arrays("val")),
        texts["val"],
        known_words(read_vocabulary(layout.VOCABULARY)),
        read_encoder(),
    )
    write_json(evaluation.calibration.as_dict(), layout.CALIBRATION)
    write_json(evaluation.reference, layout.DRIFT_REFERENCE)
    with resumed_run(read_json(layout.TRAINING_RUN)["run_id"]):
        write_json(headline_metrics(evaluation.summary), layout.METRICS)
        write_json(evaluation.summary, layout.EVALUATION)
        write_json(evaluation.per_class, layout.PER_CLASS)
        for name, table in evaluation.tables.items():
            with atomic_path(layout.REPORT_TABLES[name]) as temporary:
                table.to_csv(temporary, index=False)
        with atomic_path(layout.PLOTS_DIR) as temporary:
            temporary.mkdir(parents=True)
            for name, figure in evaluation.figures.items():
                figure.savefig(temporary / name, dpi=100)
        log_evaluation(evaluation, layout.PLOTS_DIR)
    logger.info("test metrics: %s", headline_metrics(evaluation.summary))
    logger.info("%s", triage_sentence(evaluation.summary["calibration"]))
    pairs = evaluation.tables["confused_pairs"]
    if len(pairs):
        top = pairs.iloc[0]
        logger.info("most confused: %s → %s (%d times)", top.actual, top.predicted, top["count"])
