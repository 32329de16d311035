"""Raw text in, category out: the predictor and the MLflow pyfunc adapter around it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from prodcat.text import (
    build_vectorizer,
    encode_texts,
    normalize_text,
    read_labels,
    read_vocabulary,
)

logger = logging.getLogger(__name__)

TEXT_FIELD = "description"
MAX_TEXTS_PER_REQUEST = 5000
MAX_TEXT_CHARS = 5000
ARTIFACT_MODEL = "model"
ARTIFACT_VOCABULARY = "vocabulary"
ARTIFACT_LABELS = "labels"


class InvalidInput(MlflowException):
    """A request the model cannot answer; MLflow's server turns it into HTTP 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


@dataclass(frozen=True)
class Predictor:
    """The trained network with the vocabulary and label map it was trained with."""

    model: Any  # keras.Model
    vectorizer: Any  # keras.layers.TextVectorization
    labels: tuple[str, ...]

    @classmethod
    def from_files(cls, model_path: Path, vocabulary_path: Path, labels_path: Path) -> Predictor:
        from prodcat.model import load_model

        model = load_model(model_path)
        vocabulary = read_vocabulary(vocabulary_path)
        return cls(
            model=model,
            vectorizer=build_vectorizer(vocabulary, sequence_length=model.input_shape[1]),
            labels=tuple(read_labels(labels_path)),
        )

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(labels))``."""
        token_ids = encode_texts(self.vectorizer, [normalize_text(text) for text in texts])
        return np.asarray(self.model.predict_on_batch(token_ids))

    def predict(self, texts: Sequence[str], top_k: int) -> pd.DataFrame:
        return rank_categories(self.probabilities(texts), self.labels, top_k)


def rank_categories(probabilities: np.ndarray, labels: Sequence[str], top_k: int) -> pd.DataFrame:
    """The best category, its probability, and the ``top_k`` best with theirs, per row."""
    k = max(1, min(top_k, len(labels)))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    ranked = [
        [{"category": labels[i], "probability": float(row[i])} for i in best]
        for row, best in zip(probabilities, order, strict=True)
    ]
    return pd.DataFrame(
        {
            "category": [labels[best[0]] for best in order],
            "probability": [
                float(row[best[0]]) for row, best in zip(probabilities, order, strict=True)
            ],
            "top_k": ranked,
        }
    )


def texts_from_request(model_input: Any) -> list[str]:
    """The texts of a request, or :class:`InvalidInput` saying what is wrong with it."""
    if isinstance(model_input, pd.DataFrame):
        if TEXT_FIELD not in model_input.columns:
            found = ", ".join(map(str, model_input.columns)) or "none"
            raise InvalidInput(f"missing field '{TEXT_FIELD}' (fields found: {found})")
        values = model_input[TEXT_FIELD].tolist()
    elif isinstance(model_input, dict) and TEXT_FIELD in model_input:
        values = list(np.atleast_1d(model_input[TEXT_FIELD]))
    elif isinstance(model_input, (list, tuple, np.ndarray, pd.Series)):
        values = list(model_input)
    else:
        raise InvalidInput(f"expected records with a '{TEXT_FIELD}' field")
    if not values:
        raise InvalidInput("no texts to classify: the request is empty")
    if len(values) > MAX_TEXTS_PER_REQUEST:
        raise InvalidInput(
            f"{len(values)} texts in one request; send at most {MAX_TEXTS_PER_REQUEST} per request"
        )
    for position, value in enumerate(values):
        if not isinstance(value, str):
            kind = "null" if value is None or value is pd.NA else type(value).__name__
            raise InvalidInput(f"'{TEXT_FIELD}' of item {position} is {kind}; expected text")
        if not value.strip():
            raise InvalidInput(f"'{TEXT_FIELD}' of item {position} is empty")
        if len(value) > MAX_TEXT_CHARS:
            raise InvalidInput(
                f"'{TEXT_FIELD}' of item {position} has {len(value)} characters; "
                f"the limit is {MAX_TEXT_CHARS}"
            )
    return values


class ProdcatModel(mlflow.pyfunc.PythonModel):
    """The pyfunc adapter: MLflow loads it from code (no pickle) and calls it by keyword."""

    def __init__(self) -> None:
        self._predictor: Predictor | None = None

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self._predictor = Predictor.from_files(
            Path(context.artifacts[ARTIFACT_MODEL]),
            Path(context.artifacts[ARTIFACT_VOCABULARY]),
            Path(context.artifacts[ARTIFACT_LABELS]),
        )

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        if self._predictor is None:
            raise RuntimeError("load_context was not called")
        top_k = int((params or {}).get("top_k", 3))
        if top_k < 1:
            raise InvalidInput(f"top_k is {top_k}; expected 1 or more")
        return self._predictor.predict(texts_from_request(model_input), top_k)
