"""Raw text in, ranked categories out: the trained network with the vocabulary, feature state and
labels it was trained with, reading text exactly as training did (the same ``core`` code
computes its word ids, subword ids and TF-IDF features), and the calibration it was evaluated
with: the probabilities it answers are calibrated, and each answer says whether it needs a
person."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prodcat.core.calibration import Calibration
from prodcat.core.features import WORD_IDS, FeatureEncoder, tensor_inputs
from prodcat.core.text import (
    build_vectorizer,
    normalize_text,
    read_labels,
    read_text_settings,
    read_vocabulary,
)

if TYPE_CHECKING:
    from prodcat.core.explain import Explainer, Explanation

MODEL_BATCH = 2048  # texts the network scores at once: bounds its working memory


@dataclass(frozen=True)
class Predictor:
    """The trained network with the feature encoder, label map and calibration it was trained
    and evaluated with."""

    model: Any  # keras.Model
    encoder: FeatureEncoder
    labels: tuple[str, ...]
    calibration: Calibration = field(default_factory=Calibration)
    max_title_chars: int | None = None  # the cut training read titles with

    @classmethod
    def from_files(
        cls,
        model_path: Path,
        vocabulary_path: Path,
        labels_path: Path,
        calibration: Calibration | None = None,
        text_settings_path: Path | None = None,
        features_path: Path | None = None,
    ) -> Predictor:
        """A model exported without a feature state (``features_path`` None) reads word ids
        alone, as models did before they had subwords and a wide path."""
        from prodcat.core.model import load_model

        model = load_model(model_path)
        vocabulary = read_vocabulary(vocabulary_path)
        if features_path is None:
            encoder = FeatureEncoder(build_vectorizer(vocabulary, model.input_shape[1]))
        else:
            state = json.loads(features_path.read_text(encoding="utf-8"))
            encoder = FeatureEncoder.from_state(state, vocabulary)
        return cls(
            model=model,
            encoder=encoder,
            labels=tuple(read_labels(labels_path)),
            calibration=calibration or Calibration(),
            max_title_chars=read_text_settings(text_settings_path),
        )

    def normalized(self, texts: Sequence[str]) -> list[str]:
        """The texts as ``prepare`` read the training titles: cut, then normalised."""
        return [normalize_text(text, self.max_title_chars) for text in texts]

    def inputs(self, normalized_texts: Sequence[str]) -> dict[str, Any]:
        """The model's named inputs for normalised texts."""
        return self.encoder.encode(normalized_texts)

    def _feed(self, inputs: dict[str, Any]) -> Any:
        """What the model is called with: the named inputs, or a one-input model's array."""
        if isinstance(self.model.input, dict):
            return tensor_inputs(inputs)
        return inputs[WORD_IDS]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(labels))``. The network sees at most
        :data:`MODEL_BATCH` texts at a time, so its working memory does not grow with the
        caller's chunk."""
        inputs = self.inputs(self.normalized(texts))
        slices = [
            self.model.predict_on_batch(
                self._feed(
                    {name: value[start : start + MODEL_BATCH] for name, value in inputs.items()}
                )
            )
            for start in range(0, len(texts), MODEL_BATCH)
        ]
        if not slices:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.concatenate([np.asarray(piece) for piece in slices])

    def calibrated_probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return self.calibration.probabilities(self.probabilities(texts))

    def predict(self, texts: Sequence[str], top_k: int) -> pd.DataFrame:
        return rank_categories(
            self.calibrated_probabilities(texts), self.labels, top_k, self.calibration
        )

    def best(self, texts: Sequence[str]) -> pd.DataFrame:
        """The best category, its calibrated probability and ``needs_review`` per text: what a
        batch file holds, without building a ranked list per row."""
        probabilities = self.calibrated_probabilities(texts)
        best = probabilities.argmax(axis=1)
        top = probabilities[np.arange(len(best)), best]
        return pd.DataFrame(
            {
                "category": np.asarray(self.labels, dtype=object)[best],
                "probability": top,
                "needs_review": self.calibration.needs_review(top),
            }
        )

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
        inputs = self.inputs(normalized)
        probabilities, weights = self._explainer(
            inputs if isinstance(self.model.input, dict) else inputs[WORD_IDS]
        )
        word_ids = inputs[WORD_IDS]
        explained = explanations(texts, normalized, word_ids, probabilities, weights, self.labels)
        return probabilities, explained

    def predict_explained(self, texts: Sequence[str], top_k: int, top_words: int) -> pd.DataFrame:
        """:meth:`predict` plus an ``attention`` column: the ``top_words`` most attended words."""
        probabilities, explained = self.explain(texts)
        calibrated = self.calibration.probabilities(probabilities)
        ranked = rank_categories(calibrated, self.labels, top_k, self.calibration)
        ranked["attention"] = [item.as_dict(top_words)["words"] for item in explained]
        return ranked


def rank_categories(
    probabilities: np.ndarray,
    labels: Sequence[str],
    top_k: int,
    calibration: Calibration | None = None,
) -> pd.DataFrame:
    """The best category, its probability, the ``top_k`` best with theirs, and whether the best
    one is below ``calibration``'s review threshold, per row."""
    k = max(1, min(top_k, len(labels)))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    ranked = [
        [{"category": labels[i], "probability": float(row[i])} for i in best]
        for row, best in zip(probabilities, order, strict=True)
    ]
    top = np.asarray([row[best[0]] for row, best in zip(probabilities, order, strict=True)])
    return pd.DataFrame(
        {
            "category": [labels[best[0]] for best in order],
            "probability": top.astype(np.float64),
            "top_k": ranked,
            "needs_review": (calibration or Calibration()).needs_review(top),
        }
    )
