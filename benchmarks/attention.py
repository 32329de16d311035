"""Do the attention weights point at the word that decides the class?

A toy task where one keyword among filler words decides the class, trained with several seeds, for
two ways of scoring the attention pooling: from the contextual states alone (BiLSTM + attention
output), or from the states with each step's own word embedding beside them (prodcat's model).
Prints and saves, per variant and seed, the test accuracy and how often the keyword gets more
weight than every filler word. With several pooling heads the weights are their mean, as in
``prodcat predict --explain`` and the model card.

    python benchmarks/attention.py --out benchmarks/results/attention.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from prodcat.core.config import TrainConfig
from prodcat.core.explain import attention_explainer
from prodcat.core.features import WORD_IDS
from prodcat.core.model import Architecture, AttentionPooling, build_model

LENGTH = 8
FILLER = np.arange(2, 12)
KEYWORDS = np.array([12, 13, 14])


def keyword_texts(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    token_ids = np.zeros((rows, LENGTH), dtype=np.int32)
    labels = rng.integers(0, len(KEYWORDS), rows)
    positions = np.zeros(rows, dtype=int)
    for row in range(rows):
        words = int(rng.integers(4, 8))
        token_ids[row, :words] = rng.choice(FILLER, words)
        positions[row] = rng.integers(0, words)
        token_ids[row, positions[row]] = KEYWORDS[labels[row]]
    return token_ids, labels, positions


def context_only(arch: Architecture) -> keras.Model:
    """prodcat's network before the word embedding joined the pooling's input."""
    token_ids = keras.Input(shape=(arch.sequence_length,), dtype="int32", name=WORD_IDS)
    embedded = keras.layers.Embedding(arch.vocabulary_size, arch.embedding_dim, mask_zero=True)(
        token_ids
    )
    states = keras.layers.Bidirectional(keras.layers.LSTM(arch.lstm_units, return_sequences=True))(
        embedded
    )
    attended = keras.layers.Attention(use_scale=True)([states, states])
    pooled = AttentionPooling(
        units=arch.lstm_units, heads=arch.attention_heads, name="attention_pooling"
    )(attended)
    probabilities = keras.layers.Dense(arch.num_classes, activation="softmax")(pooled)
    return keras.Model({WORD_IDS: token_ids}, probabilities)


def measure(variant: str, seed: int, heads: int) -> dict:
    keras.utils.set_random_seed(seed)
    arch = Architecture(16, LENGTH, len(KEYWORDS), 16, 16, 0.1, "self", "attention", heads)
    model = build_model(arch) if variant == "word_and_context" else context_only(arch)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    train_ids, train_labels, _ = keyword_texts(600, seed=1)
    model.fit({WORD_IDS: train_ids}, train_labels, epochs=8, batch_size=32, verbose=0)
    test_ids, test_labels, positions = keyword_texts(100, seed=2)
    probabilities, weights = attention_explainer(model)({WORD_IDS: test_ids})
    keyword = weights[np.arange(len(test_ids)), positions]
    filler = np.where((test_ids != 0) & (test_ids < KEYWORDS.min()), weights, 0).max(axis=1)
    return {
        "variant": variant,
        "seed": seed,
        "heads": heads,
        "accuracy": float((probabilities.argmax(axis=1) == test_labels).mean()),
        "keyword_wins": float((keyword > filler).mean()),
        "keyword_weight": round(float(keyword.mean()), 4),
        "heaviest_filler_weight": round(float(filler.mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9, 10])
    parser.add_argument(
        "--heads",
        type=int,
        default=TrainConfig().attention_heads,
        help="heads of the attention pooling (default: train.attention_heads' default)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/attention.json"))
    arguments = parser.parse_args()
    results = [
        measure(variant, seed, arguments.heads)
        for variant in ("context_only", "word_and_context")
        for seed in arguments.seeds
    ]
    print(f"{'variant':<18} {'seed':>4} {'accuracy':>8} {'keyword wins':>12} {'weights':>15}")
    for row in results:
        print(
            f"{row['variant']:<18} {row['seed']:>4} {row['accuracy']:>8.2f} "
            f"{row['keyword_wins']:>12.0%} "
            f"{row['keyword_weight']:>7.3f}/{row['heaviest_filler_weight']:.3f}"
        )
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    arguments.out.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
