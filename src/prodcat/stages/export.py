"""Stage ``export``: the servable pyfunc model (raw text in) under ``models/``, the model card, and
the registry version with alias ``challenger``."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import mlflow
import pandas as pd

from prodcat.core.config import ExportConfig
from prodcat.core.metrics import per_class_f1
from prodcat.core.model_card import CardFacts, render_model_card
from prodcat.io import layout
from prodcat.io.files import atomic_path, read_json, write_json
from prodcat.io.params import load_section
from prodcat.io.registry import register_export
from prodcat.serving import pyfunc

logger = logging.getLogger(__name__)

ARTIFACTS = {
    pyfunc.ARTIFACT_MODEL: layout.MODEL,
    pyfunc.ARTIFACT_VOCABULARY: layout.VOCABULARY,
    pyfunc.ARTIFACT_LABELS: layout.LABELS,
    pyfunc.ARTIFACT_TEXT_SETTINGS: layout.TEXT_SETTINGS,
    pyfunc.ARTIFACT_FEATURES: layout.FEATURES,
    pyfunc.ARTIFACT_MODEL_CARD: layout.MODEL_CARD,
    pyfunc.ARTIFACT_CALIBRATION: layout.CALIBRATION,
    pyfunc.ARTIFACT_DRIFT_REFERENCE: layout.DRIFT_REFERENCE,
}


def main(params_path: Path) -> None:
    config = load_section(ExportConfig, "export", params_path)
    facts = card_facts(config)
    with atomic_path(layout.MODEL_CARD) as temporary:
        temporary.write_text(render_model_card(facts), encoding="utf-8")
    # The local copy moves into place only once the registry has the version: a failed
    # registration leaves the previous export and registered.json as they were.
    with tempfile.TemporaryDirectory() as scratch, atomic_path(layout.EXPORT_DIR) as temporary:
        arguments = pyfunc_arguments(config, Path(scratch))
        mlflow.pyfunc.save_model(path=temporary, **arguments)
        registered = register_export(config, facts, arguments)
    write_json(registered, layout.REGISTERED)
    logger.info("%s; local copy in %s", registered["summary"], layout.EXPORT_DIR)


def register(params_path: Path) -> str:
    """``prodcat register``: register the workspace's model, e.g. an applied DVC experiment's."""
    config = load_section(ExportConfig, "export", params_path)
    with tempfile.TemporaryDirectory() as scratch:
        arguments = pyfunc_arguments(config, Path(scratch))
        return register_export(config, card_facts(config), arguments, register=True)["summary"]


def card_facts(config: ExportConfig) -> CardFacts:
    training = read_json(layout.TRAINING_RUN)
    return CardFacts(
        name=config.registered_model_name,
        data_report=read_json(layout.DATA_REPORT),
        params=mlflow.MlflowClient().get_run(training["run_id"]).data.params,
        metrics=read_json(layout.EVALUATION),
        per_class_f1=per_class_f1(read_json(layout.PER_CLASS)),
        confused_pairs=pd.read_csv(layout.CONFUSED_PAIRS),
        run_id=training["run_id"],
        model_sha256=training["model_sha256"],
    )


def pyfunc_arguments(config: ExportConfig, scratch: Path) -> dict:
    test_texts = pd.read_csv(layout.split_texts("test"), dtype=str, keep_default_na=False)
    return pyfunc.pyfunc_arguments(
        ARTIFACTS, pyfunc.model_code(scratch), config.top_k, pyfunc.input_example(test_texts)
    )
