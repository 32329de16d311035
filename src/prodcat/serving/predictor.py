"""Raw text in, ranked categories out: the trained network with the vocabulary and labels it was
trained with, reading text exactly as ``prepare`` did."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prodcat.core.text import (
    build_vectorizer,
    encode_texts,
    normalize_text,
    read_labels,
    read_text_settings,
    read_vocabulary,
)

if TYPE_CHECKING:
    from prodcat.core.explain import Explainer, Explanation


@dataclass(frozen=True)
class Predictor:
    """The trained network with the vocabulary and label map it was trained with."""

    model: Any  # keras.Model
    vectorizer: Any  # keras.layers.TextVectorization
    labels: tuple[str, ...]
    max_title_chars: int | None = None  # the cut training read titles with

    @classmethod
    def from_files(
        cls,
        model_path: Path,
        vocabulary_path: Path,
        labels_path: Path,
        text_settings_path: Path | None = None,
    ) -> Predictor:
        from prodcat.core.model import load_model

        model = load_model(model_path)
        vocabulary = read_vocabulary(vocabulary_path)
        return cls(
            model=model,
            vectorizer=build_vectorizer(vocabulary, sequence_length=model.input_shape[1]),
            labels=tuple(read_labels(labels_path)),
            max_title_chars=read_text_settings(text_settings_path),
        )

    def normalized(self, texts: Sequence[str]) -> list[str]:
        """The texts as ``prepare`` read the training titles: cut, then normalised."""
        return [normalize_text(text, self.max_title_chars) for text in texts]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(labels))``."""
        token_ids = encode_texts(self.vectorizer, self.normalized(texts))
        return np.asarray(self.model.predict_on_batch(token_ids))

    def predict(self, texts: Sequence[str], top_k: int) -> pd.DataFrame:
        return rank_categories(self.probabilities(texts), self.labels, top_k)

    @functools.cached_property
    def _explainer(self) -> Explainer:
        from prodcat.core.explain import attention_explainer

        return attention_explainer(self.model)

    def explain(self, texts: Sequence[str]) -> tuple[np.ndarray, list[Explanation]]:
        """Class probabilities and, per text, the attention weight of each word.

        The explaining model is built on first use, so plain predictions never pay for it.
        """
        from prodcat.core.explain import explanations

        normalized = self.normalized(texts)
        token_ids = encode_texts(self.vectorizer, normalized)
        probabilities, weights = self._explainer(token_ids)
        explained = explanations(texts, normalized, token_ids, probabilities, weights, self.labels)
        return probabilities, explained

    def predict_explained(self, texts: Sequence[str], top_k: int, top_words: int) -> pd.DataFrame:
        """:meth:`predict` plus an ``attention`` column: the ``top_words`` most attended words."""
        probabilities, explained = self.explain(texts)
        ranked = rank_categories(probabilities, self.labels, top_k)
        ranked["attention"] = [item.as_dict(top_words)["words"] for item in explained]
        return ranked


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
