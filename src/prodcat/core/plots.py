"""The pictures of a run, as matplotlib figures: the evaluate stage saves and logs them.

Pure functions: data in, a figure out; nothing is written here.
"""

from __future__ import annotations

import itertools
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


def reliability_figure(
    before: pd.DataFrame, after: pd.DataFrame, ece: tuple[float, float]
) -> Figure:
    """Accuracy against confidence per bin, before and after calibration; the diagonal is
    perfect calibration, and the bars under it show how many test items each bin holds."""
    plt = _pyplot()
    figure, (curve, counts) = plt.subplots(
        2, 1, figsize=(6, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    curve.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    for table, label, value in ((before, "network", ece[0]), (after, "calibrated", ece[1])):
        filled = table[table["rows"] > 0]
        curve.plot(
            filled["confidence"], filled["accuracy"], marker="o", label=f"{label} (ECE {value:.4f})"
        )
    curve.set_ylabel("accuracy")
    curve.set_xlim(0, 1)
    curve.set_ylim(0, 1.02)
    curve.set_title(f"Reliability on the test split ({len(after)} equal-width bins)")
    curve.grid(alpha=0.3)
    curve.legend(loc="upper left")
    middles = (after["lower"] + after["upper"]) / 2
    counts.bar(middles, after["rows"], width=1 / len(after), color="tab:orange", alpha=0.7)
    counts.set_yscale("symlog")
    counts.set_xlabel("top probability (calibrated)")
    counts.set_ylabel("test items")
    figure.tight_layout()
    return figure


def coverage_figure(
    curve: pd.DataFrame, threshold: float, coverage: float, accuracy: float | None
) -> Figure:
    """Accuracy of the auto-accepted predictions against the share accepted, threshold by
    threshold, with the review threshold chosen on validation marked."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.plot(curve["coverage"], curve["accuracy"], marker=".", label="test split")
    if accuracy is not None:
        axes.scatter(
            [coverage],
            [accuracy],
            color="tab:red",
            zorder=3,
            label=f"review threshold {threshold:.3f}: {coverage:.1%} accepted at {accuracy:.2%}",
        )
    axes.set_xlabel("coverage (share of titles auto-accepted)")
    axes.set_ylabel("accuracy of the accepted")
    axes.set_xlim(0, 1.02)
    axes.set_title("Coverage against accuracy (calibrated probability thresholds)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    figure.tight_layout()
    return figure


def drift_figure(report: dict) -> Figure:
    """A drift report at a glance: the checks against their limits, the titles' lengths and the
    predicted categories, reference beside batch."""
    plt = _pyplot()
    figure, (checks, lengths, categories) = plt.subplots(
        1, 3, figsize=(16, 5), gridspec_kw={"width_ratios": [1, 1, 1.4]}
    )
    names = [check["name"] for check in report["checks"]]
    ratios = [check["value"] / check["limit"] for check in report["checks"]]
    colours = ["tab:red" if check["crossed"] else "tab:green" for check in report["checks"]]
    shown = [min(ratio, 3.0) for ratio in ratios]  # past 3 times its limit, the bar is cut
    checks.barh(names, shown, color=colours)
    for row, check in enumerate(report["checks"]):
        checks.text(
            min(shown[row], 2.2) + 0.05,
            row,
            f"{check['value']:+.3f} / {check['limit']}",
            va="center",
        )
    checks.set_xlim(0, 3.2)
    checks.axvline(1.0, color="black", linestyle="--", label="limit")
    checks.invert_yaxis()
    checks.set_xlabel("value / limit (over 1: drifted)")
    verdict = "DRIFT" if report["alert"] else ("no drift" if report["judged"] else "not judged")
    checks.set_title(f"{verdict}: {report['scored_rows']} scored rows")
    checks.legend(loc="lower right")
    edges = report["length"]["edges"]
    bins = (
        [f"≤{edges[0]:g}"]
        + [
            f"{low + 1:g}–{high:g}" if high - low > 1 else f"{high:g}"
            for low, high in itertools.pairwise(edges)
        ]
        + [f">{edges[-1]:g}"]
        if edges
        else ["all"]
    )
    _paired_bars(lengths, bins, report["length"]["reference"], report["length"]["batch"])
    lengths.set_xlabel("words in the title")
    lengths.set_title("Title length")
    shown = report["categories"]
    _paired_bars(categories, shown["names"], shown["reference"], shown["batch"], horizontal=True)
    categories.set_title("Predicted categories")
    figure.tight_layout()
    return figure


def _paired_bars(
    axes,
    names: Sequence[str],
    reference: Sequence[float],
    batch: Sequence[float],
    horizontal: bool = False,
) -> None:
    positions = np.arange(len(names))
    width = 0.4
    draw = axes.barh if horizontal else axes.bar
    draw(positions - width / 2, reference, width, label="reference (validation split)")
    draw(positions + width / 2, batch, width, label="batch")
    if horizontal:
        axes.set_yticks(positions, names, fontsize=7)
        axes.invert_yaxis()
        axes.set_xlabel("share of scored titles")
    else:
        axes.set_xticks(positions, names, fontsize=8, rotation=45)
        axes.set_ylabel("share of scored titles")
    axes.legend()
