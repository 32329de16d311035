"""Every picture of a run is a figure with the right titles, labels and data."""

from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from prodcat.core.explain import Explanation, WordWeight
from prodcat.core.plots import (
    attention_heatmap,
    class_distribution_figure,
    confusion_figure,
    per_class_f1_figure,
    training_curves,
)

LABELS = ["bags", "shoes", "tops"]


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def tick_labels(axes, axis: str = "x") -> list[str]:
    ticks = axes.get_xticklabels() if axis == "x" else axes.get_yticklabels()
    return [tick.get_text() for tick in ticks]


def test_training_curves_show_training_and_validation_per_epoch() -> None:
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "loss": [1.0, 0.5, 0.3],
            "val_loss": [1.1, 0.6, 0.5],
            "accuracy": [0.5, 0.8, 0.9],
            "val_accuracy": [0.4, 0.7, 0.8],
        }
    )
    figure = training_curves(history)
    loss, accuracy = figure.axes
    assert (loss.get_title(), accuracy.get_title()) == ("loss", "accuracy")
    assert [line.get_label() for line in loss.get_lines()] == ["training", "validation"]
    np.testing.assert_array_equal(loss.get_lines()[1].get_ydata(), [1.1, 0.6, 0.5])


def test_confusion_matrix_is_normalised_by_true_class() -> None:
    figure = confusion_figure(np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]]), LABELS)
    axes = figure.axes[0]
    assert "share of each true class" in axes.get_title()
    assert tick_labels(axes) == LABELS
    values = axes.images[0].get_array()
    np.testing.assert_allclose(values[0], [0.75, 0.25, 0.0])
    np.testing.assert_allclose(values[2], [0.0, 0.0, 0.0])  # a class absent from the test split


def test_confusion_matrix_with_many_classes_drops_the_cell_values() -> None:
    labels = [f"class-{i}" for i in range(40)]
    figure = confusion_figure(np.eye(40, dtype=int) * 3, labels)
    assert not figure.axes[0].texts  # 1,600 numbers would be unreadable; colours and a colour bar
    assert len(figure.axes) == 2


def test_per_class_f1_bars_put_the_weakest_class_on_top() -> None:
    table = pd.DataFrame({"category": LABELS, "f1": [0.9, 0.5, 1.0], "support": [3, 3, 3]})
    axes = per_class_f1_figure(table).axes[0]
    widths = [bar.get_width() for bar in axes.patches]
    assert widths == sorted(widths, reverse=True)  # barh draws bottom-up: weakest last, on top
    assert tick_labels(axes, "y")[-1] == "shoes"


def test_class_distribution_has_one_bar_series_per_split() -> None:
    table = pd.DataFrame({"category": LABELS, "train": [8, 4, 2], "val": [1, 1, 1]})
    axes = class_distribution_figure(table).axes[0]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["train", "val"]
    assert len(axes.patches) == 6
    assert set(tick_labels(axes, "y")) == set(LABELS)


def explanation(words: list[tuple[str, float]], category: str) -> Explanation:
    return Explanation(
        text=" ".join(word for word, _ in words),
        category=category,
        probability=0.9,
        words=tuple(WordWeight(i, word, weight, True) for i, (word, weight) in enumerate(words)),
    )


def test_attention_heatmap_shades_each_word_and_labels_right_and_wrong() -> None:
    explained = [
        explanation([("red", 0.1), ("boots", 0.9)], "shoes"),
        explanation([("leather", 0.3), ("tote", 0.6), ("bag", 0.1)], "shoes"),
    ]
    figure = attention_heatmap(explained, ["shoes", "bags"])
    axes = figure.axes[0]
    weights = axes.images[0].get_array()
    assert weights.shape == (2, 3)
    assert weights[0, 1] == pytest.approx(0.9)
    assert bool(np.ma.getmaskarray(weights)[0, 2])  # the first text has no third word
    assert {text.get_text() for text in axes.texts} == {"red", "boots", "leather", "tote", "bag"}
    assert tick_labels(axes, "y") == ["right: shoes (0.90)", "wrong: bags → shoes (0.90)"]


def test_attention_heatmap_without_items_says_so() -> None:
    figure = attention_heatmap([], [])
    assert isinstance(figure, Figure)
    assert "no test items" in figure.axes[0].texts[0].get_text()
