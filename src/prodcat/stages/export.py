"""Stage ``export``: the servable pyfunc model (raw text in) under ``models/``, and its registry
version with alias ``challenger``."""

from __future__ import annotations

import json
import logging
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import Array, Object, Property

import prodcat
from prodcat import layout
from prodcat.config import ExportConfig, load_section
from prodcat.data import file_md5
from prodcat.files import atomic_path, read_json, write_json
from prodcat.inference import (
    ARTIFACT_LABELS,
    ARTIFACT_MODEL,
    ARTIFACT_MODEL_CARD,
    ARTIFACT_VOCABULARY,
    TEXT_FIELD,
)
from prodcat.metrics import per_class_f1
from prodcat.model_card import CardFacts, render_model_card
from prodcat.registry import LINEAGE_LOCK_ARTIFACT, register_once
from prodcat.tracking import git_commit, resumed_run

logger = logging.getLogger(__name__)

DVC_LOCK = Path("dvc.lock")
RUNTIME_PACKAGES = ("tensorflow-cpu", "keras", "mlflow", "pandas", "numpy", "scikit-learn")
PACKAGE_DIR = Path(prodcat.__file__).parent


def model_signature(top_k: int) -> ModelSignature:
    """Text in; category, probability and the ranked top-k out.

    Request params: ``top_k``, and ``explain``, the number of most attended words to return per
    text in an ``attention`` column (0, the default, skips the extra work).
    """
    ranked = Array(Object([Property("category", "string"), Property("probability", "double")]))
    attended = Array(
        Object(
            [
                Property("position", "long"),
                Property("word", "string"),
                Property("weight", "double"),
                Property("known", "boolean"),
            ]
        )
    )
    return ModelSignature(
        inputs=Schema([ColSpec("string", TEXT_FIELD)]),
        outputs=Schema(
            [
                ColSpec("string", "category"),
                ColSpec("double", "probability"),
                ColSpec(ranked, "top_k"),
                ColSpec(attended, "attention", required=False),
            ]
        ),
        params=ParamSchema([ParamSpec("top_k", "long", top_k), ParamSpec("explain", "long", 0)]),
    )


def pyfunc_arguments(top_k: int, input_example: pd.DataFrame) -> dict[str, Any]:
    """What both the local save and the registry log are given, so the two copies are one model."""
    return {
        "python_model": str(PACKAGE_DIR / "mlflow_model.py"),
        "artifacts": {
            ARTIFACT_MODEL: str(layout.MODEL),
            ARTIFACT_VOCABULARY: str(layout.VOCABULARY),
            ARTIFACT_LABELS: str(layout.LABELS),
            ARTIFACT_MODEL_CARD: str(layout.MODEL_CARD),
        },
        "code_paths": [str(PACKAGE_DIR)],
        "signature": model_signature(top_k),
        "input_example": input_example,
        "pip_requirements": [f"{name}=={installed_version(name)}" for name in RUNTIME_PACKAGES],
    }


def input_example(test_texts: pd.DataFrame, rows: int = 3) -> pd.DataFrame:
    """A few real test descriptions: the MLflow UI shows them as the model's example request."""
    return pd.DataFrame({TEXT_FIELD: test_texts["text"].head(rows).tolist()})


def main(params_path: Path) -> None:
    config = load_section(ExportConfig, "export", params_path)
    training = read_json(layout.TRAINING_RUN)
    metrics = read_json(layout.METRICS)
    report = read_json(layout.DATA_REPORT)
    test_texts = pd.read_csv(layout.split_texts("test"), dtype=str, keep_default_na=False)
    run_params = mlflow.MlflowClient().get_run(training["run_id"]).data.params
    card = render_model_card(
        CardFacts(
            name=config.registered_model_name,
            data_report=report,
            params=run_params,
            metrics=metrics,
            per_class_f1=per_class_f1(read_json(layout.PER_CLASS)),
            confused_pairs=pd.read_csv(layout.CONFUSED_PAIRS),
            run_id=training["run_id"],
            model_sha256=training["model_sha256"],
            git_commit=git_commit(),
        )
    )
    with atomic_path(layout.MODEL_CARD) as temporary:
        temporary.write_text(card, encoding="utf-8")
    arguments = pyfunc_arguments(config.top_k, input_example(test_texts))

    # The local copy moves into place only once the registry has the version: a failed
    # registration leaves the previous export and registered.json as they were.
    with atomic_path(layout.EXPORT_DIR) as temporary:
        mlflow.pyfunc.save_model(path=temporary, **arguments)
        with resumed_run(training["run_id"]) as run:
            if DVC_LOCK.is_file():  # this build's hashes of data, code and outputs so far
                mlflow.log_text(DVC_LOCK.read_text(encoding="utf-8"), LINEAGE_LOCK_ARTIFACT)
            tags = {
                "git_commit": git_commit(),
                "run_id": run.info.run_id,
                "data.path": report["source"]["path"],
                "data.md5": report["source"]["md5"],
                "test_data.md5": file_md5(layout.split_texts("test")),
                "params": json.dumps(run_params, sort_keys=True),
                **{
                    f"test_{key}": str(value)
                    for key, value in metrics.items()
                    if isinstance(value, int | float)
                },
                **{f"baseline.{key}": str(value) for key, value in metrics["baseline"].items()},
            }

            def log_and_register() -> str:
                info = mlflow.pyfunc.log_model(
                    name="model", registered_model_name=config.registered_model_name, **arguments
                )
                return str(info.registered_model_version)

            version, created = register_once(
                mlflow.MlflowClient(),
                config.registered_model_name,
                training["model_sha256"],
                log_and_register,
                tags,
                config.alias,
            )
            # The UI shows the description on the version's page: the card, readable there.
            mlflow.MlflowClient().update_model_version(
                version.name, version.version, description=card
            )
            model_uri = f"models:/{version.name}/{version.version}"
            mlflow.set_tag("registered_model_version", model_uri)
    write_json(
        {
            "name": version.name,
            "version": version.version,
            "alias": config.alias,
            "model_uri": model_uri,
            "run_id": version.run_id,
            "model_sha256": training["model_sha256"],
        },
        layout.REGISTERED,
    )
    logger.info(
        "%s %s (alias %s); local copy in %s",
        "registered" if created else "already registered as",
        model_uri,
        config.alias,
        layout.EXPORT_DIR,
    )
