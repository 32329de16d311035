import numpy as np
import pytest

from prodcat.stages.train import class_weights


def test_no_weighting_by_default() -> None:
    assert class_weights(np.array([0, 0, 1]), "none") is None


def test_balanced_weights_are_inverse_to_class_frequency() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), "balanced")
    assert weights == pytest.approx({0: 4 / (2 * 3), 1: 4 / (2 * 1)})
