import math

import matplotlib.figure
import numpy as np
import pytest

from prodcat.metrics import confusion_figure, confusion_rows, score

LABELS = ["bags", "shoes", "tops"]
TRUTH = np.array([0, 0, 1, 1, 2, 2])
PROBABILITIES = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.6, 0.3, 0.1],
        [0.2, 0.7, 0.1],
        [0.5, 0.4, 0.1],  # a shoe taken for a bag
        [0.1, 0.1, 0.8],
        [0.1, 0.2, 0.7],
    ]
)


def test_headline_scores_match_hand_computed_values() -> None:
    scores = score(TRUTH, PROBABILITIES, LABELS)
    assert scores.headline["accuracy"] == pytest.approx(5 / 6, abs=1e-6)
    # bags: P 2/3 R 1 → F1 0.8; shoes: P 1 R 0.5 → F1 2/3; tops: F1 1
    assert scores.headline["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 1) / 3, abs=1e-6)
    expected_loss = -np.mean(np.log([0.8, 0.6, 0.7, 0.4, 0.8, 0.7]))
    assert scores.headline["loss"] == pytest.approx(expected_loss, abs=1e-6)
    assert set(scores.per_class) == set(LABELS)
    assert scores.per_class["shoes"]["recall"] == pytest.approx(0.5)
    np.testing.assert_array_equal(scores.confusion, [[2, 0, 0], [1, 1, 0], [0, 0, 2]])


def test_confusion_rows_and_figure() -> None:
    rows = confusion_rows(TRUTH, PROBABILITIES.argmax(axis=1), LABELS)
    assert rows[3] == {"actual": "shoes", "predicted": "bags"}
    assert len(rows) == len(TRUTH)
    figure = confusion_figure(score(TRUTH, PROBABILITIES, LABELS).confusion, LABELS)
    assert isinstance(figure, matplotlib.figure.Figure)
    assert not math.isnan(figure.get_size_inches()[0])
