"""The blend of ``benchmarks/headroom.py``: which side wins at each weight, and the search."""

from __future__ import annotations

import numpy as np

from tests.unit.benchmark_scripts import load_benchmark

headroom = load_benchmark("headroom")

# Three rows, two classes: the network is right on rows 0 and 1, the baseline on rows 1 and 2;
# on row 2 the network is barely wrong and the baseline sure, on row 0 the reverse.
NETWORK = np.array([[0.9, 0.1], [0.2, 0.8], [0.55, 0.45]])
BASELINE_SCORES = np.array([[-0.1, 0.1], [-1.0, 1.0], [-2.0, 2.0]])
LABELS = np.array([0, 1, 1])


def test_weight_one_is_the_networks_and_weight_zero_the_baseline() -> None:
    networks_alone = headroom.blend(NETWORK, BASELINE_SCORES, weight=1.0, temperature=5.0)
    baseline_alone = headroom.blend(NETWORK, BASELINE_SCORES, weight=0.0, temperature=5.0)
    np.testing.assert_allclose(networks_alone, NETWORK)
    assert baseline_alone.argmax(axis=1).tolist() == BASELINE_SCORES.argmax(axis=1).tolist()
    np.testing.assert_allclose(baseline_alone.sum(axis=1), 1.0)


def test_the_search_finds_a_mix_that_beats_both_sides() -> None:
    weight, temperature = headroom.best_blend(NETWORK, BASELINE_SCORES, LABELS)
    mixed = headroom.blend(NETWORK, BASELINE_SCORES, weight, temperature)
    assert mixed.argmax(axis=1).tolist() == LABELS.tolist()
    assert 0 < weight < 1
    assert temperature in headroom.TEMPERATURES
