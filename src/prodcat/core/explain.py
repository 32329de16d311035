"""Where the model looked: the attention weight of each input word.

The weights are the ones the network itself uses to pool its encoder states, so they show what
this prediction leaned on, not a post-hoc estimate. With ``pooling: average`` there is no pooling
attention; the self-attention each word receives, averaged over the real words, stands in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from prodcat.core.features import WORD_IDS, rows_of, tensor_inputs
from prodcat.core.text import OOV_ID, PAD_ID, normalize_text

POOLING_LAYER = "attention_pooling"
ATTENTION_LAYERS = ("self_attention", "additive_attention")


@dataclass(frozen=True)
class WordWeight:
    """One input word, where it stands, and the share of attention it got."""

    position: int
    word: str
    weight: float
    known: bool  # False: outside the vocabulary, the model saw it as [UNK]


@dataclass(frozen=True)
class Explanation:
    """A prediction with the attention weight of every word the model read."""

    text: str
    category: str
    probability: float
    words: tuple[WordWeight, ...]

    def top_words(self, count: int) -> list[WordWeight]:
        """The ``count`` most attended words, heaviest first (ties: earlier word first)."""
        return sorted(self.words, key=lambda item: (-item.weight, item.position))[:count]

    def as_dict(self, top: int | None = None) -> dict:
        words = self.words if top is None else self.top_words(top)
        return {
            "text": self.text,
            "category": self.category,
            "probability": round(self.probability, 6),
            "words": [
                {
                    "position": item.position,
                    "word": item.word,
                    "weight": round(item.weight, 6),
                    "known": item.known,
                }
                for item in words
            ],
        }


Inputs = Mapping[str, Any] | np.ndarray  # the model's named inputs, or a one-input model's
Explainer = Callable[[Inputs], tuple[np.ndarray, np.ndarray]]


def word_ids_of(inputs: Inputs) -> np.ndarray:
    """The padded word ids among a model's inputs."""
    return np.asarray(inputs[WORD_IDS] if isinstance(inputs, Mapping) else inputs)


def attention_explainer(model: keras.Model) -> Explainer:
    """A function from the model's inputs to (class probabilities, per-word attention weights).

    One forward pass through the trained layers (no copy of the weights) up to the attention
    layer of the deep path, whose weights are then computed from the same states; padded steps
    get weight zero. The probabilities are the whole model's, the wide path's included.
    """
    names = {layer.name for layer in model.layers}
    name = next((name for name in (POOLING_LAYER, *ATTENTION_LAYERS) if name in names), None)
    if name is None:
        raise ValueError(f"model '{model.name}' has no attention layer to explain")
    layer = model.get_layer(name)
    states = keras.tree.flatten(layer.input)[0]  # the encoder states the layer attends over
    forward = keras.Model(model.input, [states, model.output], name="prodcat_explained")

    def explain(inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
        token_ids = word_ids_of(inputs)
        feed = tensor_inputs(inputs) if isinstance(inputs, Mapping) else inputs
        hidden, probabilities = forward(feed, training=False)
        mask = keras.ops.convert_to_tensor(token_ids != PAD_ID)
        if name == POOLING_LAYER:
            attention = layer.attention_weights(hidden, mask)
        else:
            _, attention = layer([hidden, hidden], mask=[mask, mask], return_attention_scores=True)
        return (
            keras.ops.convert_to_numpy(probabilities),
            word_weights(keras.ops.convert_to_numpy(attention), token_ids),
        )

    return explain


def word_weights(attention: np.ndarray, token_ids: np.ndarray) -> np.ndarray:
    """Per-word weights, ``(batch, time)``, summing to one over each text's real words.

    Pooling attention is already one distribution per text. Self-attention scores,
    ``(batch, query, key)``, become the attention each key word receives, averaged over the real
    (non-padding) query words.
    """
    real = (token_ids != PAD_ID).astype(np.float64)
    if attention.ndim == 2:
        weights = attention.astype(np.float64) * real
    else:
        weights = np.einsum("bq,bqk->bk", real, attention.astype(np.float64)) * real
    totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)


def explanations(
    texts: Sequence[str],
    normalized_texts: Sequence[str],
    token_ids: np.ndarray,
    probabilities: np.ndarray,
    weights: np.ndarray,
    labels: Sequence[str],
) -> list[Explanation]:
    """One :class:`Explanation` per text, its words as the vectorizer split them."""
    best = probabilities.argmax(axis=1)
    results = []
    for row, (text, normalized) in enumerate(zip(texts, normalized_texts, strict=True)):
        words = normalized.split()[: token_ids.shape[1]]
        results.append(
            Explanation(
                text=text,
                category=labels[best[row]],
                probability=float(probabilities[row, best[row]]),
                words=tuple(
                    WordWeight(
                        position=position,
                        word=word,
                        weight=float(weights[row, position]),
                        known=bool(token_ids[row, position] != OOV_ID),
                    )
                    for position, word in enumerate(words)
                ),
            )
        )
    return results


def attention_sample(label_ids: np.ndarray, predicted_ids: np.ndarray, per_kind: int) -> np.ndarray:
    """Row numbers of the first ``per_kind`` right and first ``per_kind`` wrong test items.

    Fixed by the test split's order, so the same items are shown run after run.
    """
    right = np.flatnonzero(label_ids == predicted_ids)[:per_kind]
    wrong = np.flatnonzero(label_ids != predicted_ids)[:per_kind]
    return np.concatenate([right, wrong])


def explain_sample(
    model: keras.Model,
    inputs: Mapping[str, Any],
    texts: Sequence[str],
    rows: np.ndarray,
    labels: Sequence[str],
) -> list[Explanation]:
    """The attention of the model over the chosen test items (none without a deep path)."""
    if not len(rows) or WORD_IDS not in inputs:
        return []
    chosen = [texts[row] for row in rows]
    sample = rows_of(inputs, rows)
    probabilities, weights = attention_explainer(model)(sample)
    normalized = [normalize_text(text) for text in chosen]
    return explanations(chosen, normalized, sample[WORD_IDS], probabilities, weights, labels)
