"""The pictures of a run, as matplotlib figures: the evaluate stage saves and logs them.

Pure functions: data in, a figure out; nothing is written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from prodcat.core.explain import Explanation

MAX_LABELLED_CLASSES = 30  # beyond this, cell values would overlap: colours only


def _pyplot():
    """pyplot without a display (CI, servers); imported on use, not at module import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(history: pd.DataFrame) -> Figure:
    """Training and validation loss and accuracy per epoch, side by side."""
    plt = _pyplot()
    figure, (loss, accuracy) = plt.subplots(1, 2, figsize=(11, 4))
    for axes, metric in ((loss, "loss"), (accuracy, "accuracy")):
        axes.plot(history["epoch"], history[metric], marker="o", label="training")
        axes.plot(history["epoch"], history[f"val_{metric}"], marker="o", label="validation")
        axes.set_xlabel("epoch")
        axes.set_title(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    return figure


def confusion_figure(confusion: np.ndarray, labels: Sequence[str]) -> Figure:
    """The confusion matrix normalised by true class: rare classes read as clearly as big ones."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    totals = confusion.sum(axis=1, keepdims=True)
    normalized = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    many = len(labels) > MAX_LABELLED_CLASSES
    size = max(6.0, 0.3 * len(labels) + 3)
    figure, axes = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(normalized, display_labels=list(labels)).plot(
        ax=axes,
        xticks_rotation="vertical",
        colorbar=many,
        include_values=not many,
        values_format=".2f",
        cmap="Blues",
    )
    if many:
        axes.tick_params(labelsize=6)
    axes.set_title("Test confusion matrix (share of each true class)")
    figure.tight_layout()
    return figure


def per_class_f1_figure(per_class_f1: pd.DataFrame) -> Figure:
    """Per-class F1 as horizontal bars, weakest class at the top."""
    plt = _pyplot()
    ordered = per_class_f1.sort_values("f1", ascending=False)
    figure, axes = plt.subplots(figsize=(8, max(3.0, 0.22 * len(ordered) + 1.2)))
    axes.barh(ordered["category"], ordered["f1"], color="tab:blue")
    axes.set_xlim(0, 1)
    axes.set_xlabel("F1 on the test split")
    axes.set_title("Per-class F1 (weakest at the top)")
    axes.tick_params(axis="y", labelsize=7 if len(ordered) > MAX_LABELLED_CLASSES else 9)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure


def class_distribution_figure(distribution: pd.DataFrame) -> Figure:
    """Rows per class in each split (columns ``category`` and one per split)."""
    plt = _pyplot()
    splits = [column for column in distribution.columns if column != "category"]
    ordered = distribution.sort_values(splits[0])
    positions = np.arange(len(ordered))
    height = 0.8 / len(splits)
    figure, axes = plt.subplots(figsize=(8, max(3.0, 0.3 * len(ordered) + 1.2)))
    for index, split in enumerate(splits):
        axes.barh(positions + index * height, ordered[split], height=height, label=split)
    axes.set_yticks(positions + height * (len(splits) - 1) / 2, ordered["category"])
    axes.tick_params(axis="y", labelsize=7 if len(ordered) > MAX_LABELLED_CLASSES else 9)
    axes.set_xscale("log")
    axes.set_xlabel("rows (log scale)")
    axes.set_title("Class distribution per split")
    axes.legend()
    figure.tight_layout()
    return figure


def attention_heatmap(
    explained: Sequence[Explanation], actual: Sequence[str], max_words: int = 16
) -> Figure:
    """One row per test item: its words shaded by attention weight, labelled right or wrong."""
    plt = _pyplot()
    if not explained:
        figure, axes = plt.subplots(figsize=(6, 1.5))
        axes.axis("off")
        axes.text(0.5, 0.5, "no test items sampled (evaluate.attention_examples: 0)", ha="center")
        return figure
    width = min(max_words, max(len(item.words) for item in explained))
    weights = np.full((len(explained), width), np.nan)
    for row, item in enumerate(explained):
        for word in item.words[:width]:
            weights[row, word.position] = word.weight
    figure, axes = plt.subplots(figsize=(1.0 * width + 4, 0.5 * len(explained) + 1.5))
    image = axes.imshow(np.ma.masked_invalid(weights), cmap="Oranges", vmin=0, aspect="auto")
    dark_above = 0.6 * np.nanmax(weights)  # white text on the darkest cells
    for row, item in enumerate(explained):
        for word in item.words[:width]:
            dark = word.weight > dark_above
            axes.text(
                word.position,
                row,
                word.word if word.known else f"{word.word}?",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    axes.set_yticks(
        range(len(explained)),
        [
            f"right: {item.category} ({item.probability:.2f})"
            if item.category == truth
            else f"wrong: {truth} → {item.category} ({item.probability:.2f})"
            for item, truth in zip(explained, actual, strict=True)
        ],
        fontsize=8,
    )
    axes.set_xticks(range(width), [str(position + 1) for position in range(width)], fontsize=7)
    axes.set_xlabel("word position (? = unknown word)")
    axes.set_title("Attention over the words of sample test items")
    figure.colorbar(image, ax=axes, label="attention weight", fraction=0.03)
    figure.tight_layout()
    return figure
