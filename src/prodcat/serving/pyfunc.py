"""The exported model: MLflow's pyfunc flavour around the predictor, loaded from code (no pickle),
its signature, and the files and code it ships with."""

from __future__ import annotations

import json
import logging
import shutil
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import Array, Object, Property

from prodcat.core.calibration import Calibration
from prodcat.core.text import known_words, read_vocabulary
from prodcat.serving.batch import BatchScorer
from prodcat.serving.predictor import Predictor
from prodcat.serving.quiet import import_tensorflow_quietly
from prodcat.serving.requests import (
    TEXT_FIELD,
    InvalidInput,
    install_request_guard,
    texts_from_request,
)

ARTIFACT_MODEL = "model"
ARTIFACT_VOCABULARY = "vocabulary"
ARTIFACT_LABELS = "labels"
ARTIFACT_TEXT_SETTINGS = "text_settings"
ARTIFACT_FEATURES = "features"  # sequence length, subword settings, the wide path's TF-IDF
ARTIFACT_MODEL_CARD = "model_card"
ARTIFACT_CALIBRATION = "calibration"  # temperature and review threshold, JSON
ARTIFACT_DRIFT_REFERENCE = "drift_reference"  # what `prodcat drift` compares a batch with, JSON
RUNTIME_PACKAGES = (
    "tensorflow-cpu",
    "keras",
    "mlflow",
    "pandas",
    "numpy",
    "scipy",
    "scikit-learn",
)
PACKAGE_DIR = Path(__file__).resolve().parents[1]
# What the exported model's code is: the package's face, the library and this folder.
SHIPPED = ("__init__.py", "core", "serving")

logger = logging.getLogger(__name__)


class ProdcatModel(mlflow.pyfunc.PythonModel):
    """The pyfunc adapter: MLflow loads it from code (no pickle) and calls it by keyword."""

    def __init__(self) -> None:
        self._predictor: Predictor | None = None
        self._artifacts: dict[str, str] = {}

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        import_tensorflow_quietly()
        self._artifacts = dict(context.artifacts)
        settings = context.artifacts.get(ARTIFACT_TEXT_SETTINGS)  # absent in older exports
        features = context.artifacts.get(ARTIFACT_FEATURES)  # likewise
        self._predictor = Predictor.from_files(
            Path(context.artifacts[ARTIFACT_MODEL]),
            Path(context.artifacts[ARTIFACT_VOCABULARY]),
            Path(context.artifacts[ARTIFACT_LABELS]),
            self._calibration(),
            Path(settings) if settings else None,
            Path(features) if features else None,
        )
        install_request_guard()

    def _calibration(self) -> Calibration:
        path = self._artifacts.get(ARTIFACT_CALIBRATION)
        if path is None:  # exported before models carried one: raw probabilities, no review
            logger.warning("this model carries no calibration: probabilities are uncalibrated")
            return Calibration()
        return Calibration.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def batch_scorer(self) -> BatchScorer:
        """The predictor with what batch scoring and drift reports need, for callers in this
        process (``prodcat predict --input``, ``prodcat drift``): no per-request limits."""
        if self._predictor is None:
            raise RuntimeError("load_context was not called")
        reference_path = self._artifacts.get(ARTIFACT_DRIFT_REFERENCE)
        reference = (
            json.loads(Path(reference_path).read_text(encoding="utf-8")) if reference_path else None
        )
        vocabulary = read_vocabulary(Path(self._artifacts[ARTIFACT_VOCABULARY]))
        return BatchScorer(self._predictor, known_words(vocabulary), reference)

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        if self._predictor is None:
            raise RuntimeError("load_context was not called")
        params = params or {}
        top_k = int(params.get("top_k", 3))
        if top_k < 1:
            raise InvalidInput(f"top_k is {top_k}; expected 1 or more")
        top_words = int(params.get("explain", 0))
        if top_words < 0:
            raise InvalidInput(f"explain is {top_words}; expected 0 (off) or a number of words")
        texts = texts_from_request(model_input)
        if top_words:
            return self._predictor.predict_explained(texts, top_k, top_words)
        return self._predictor.predict(texts, top_k)


def model_signature(top_k: int) -> ModelSignature:
    """Text in; category, calibrated probability, the ranked top-k and needs_review out.

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
                ColSpec("boolean", "needs_review"),
                ColSpec(attended, "attention", required=False),
            ]
        ),
        params=ParamSchema([ParamSpec("top_k", "long", top_k), ParamSpec("explain", "long", 0)]),
    )


def model_code(destination: Path) -> Path:
    """A copy of the code the model runs, ``prodcat`` with ``core`` and ``serving`` only: the
    CLI, the stages, the tracking and registry code and the dev tools stay out of the model."""
    package = destination / "prodcat"
    for name in SHIPPED:
        source = PACKAGE_DIR / name
        if source.is_dir():
            shutil.copytree(source, package / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            package.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, package / name)
    return package


def pyfunc_arguments(
    artifacts: dict[str, Path], code: Path, top_k: int, input_example: pd.DataFrame
) -> dict[str, Any]:
    """What both the local save and the registry log are given, so the two copies are one model.

    ``artifacts`` maps the ``ARTIFACT_*`` names to files; ``code`` is :func:`model_code`'s copy.
    """
    return {
        "python_model": str(Path(__file__).with_name("model_code.py")),
        "artifacts": {name: str(path) for name, path in artifacts.items()},
        "code_paths": [str(code)],
        "signature": model_signature(top_k),
        "input_example": input_example,
        "pip_requirements": [f"{name}=={installed_version(name)}" for name in RUNTIME_PACKAGES],
    }


def input_example(test_texts: pd.DataFrame, rows: int = 3) -> pd.DataFrame:
    """A few real test descriptions: the MLflow UI shows them as the model's example request."""
    return pd.DataFrame({TEXT_FIELD: test_texts["text"].head(rows).tolist()})
