"""Drift statistics (core/drift.py): PSI, the batch counts and the verdict."""

from __future__ import annotations

import numpy as np
import pytest

from prodcat.core.config import MonitorConfig
from prodcat.core.drift import (
    OTHER,
    BatchStatistics,
    compare,
    holds_unknown_word,
    length_edges,
    length_histogram,
    pooled_categories,
    psi,
    reference_statistics,
)

KNOWN = frozenset({"red", "leather", "boots", "blue", "cotton", "shirt", "tote", "bag"})
LABELS = ("bags", "shirts", "shoes")


def test_psi_is_zero_on_identical_distributions_and_large_on_disjoint_ones() -> None:
    assert psi([10, 20, 70], [10, 20, 70]) == 0.0
    assert psi([10, 20, 70], [1, 2, 7]) == pytest.approx(0.0)  # counts or shares alike
    assert psi([50, 50, 0, 0], [0, 0, 50, 50]) > 5
    assert 0 < psi([50, 50], [45, 55]) < 0.05


def test_unknown_words_and_lengths() -> None:
    texts = ["red boots", "red suede boots", "tote bag", ""]
    assert holds_unknown_word(texts, KNOWN).tolist() == [False, True, False, False]
    lengths = np.array([1, 2, 2, 3, 3, 3, 4, 8])
    edges = length_edges(lengths, bins=4)
    assert edges == sorted(set(edges)) and all(float(e).is_integer() for e in edges)
    counts = length_histogram(lengths, edges)
    assert counts.sum() == len(lengths)
    assert len(counts) == len(edges) + 1


def reference(val: list[str], categories: list[str]) -> dict:
    confidence = np.full(len(val), 0.9)
    return reference_statistics(val, KNOWN, categories, confidence, confidence < 0.5, LABELS)


TITLES = ["red leather boots", "blue cotton shirt", "tote bag", "red tote bag", "blue shirt"]
CATEGORIES = ["shoes", "shirts", "bags", "bags", "shirts"]


def batch_like(texts: list[str], categories: list[str], confidence: float, review: bool, edges):
    statistics = BatchStatistics(length_edges=edges)
    for start in range(0, len(texts), 7):  # in chunks, as a batch is scored
        chunk = slice(start, start + 7)
        statistics.add(
            texts[chunk],
            KNOWN,
            categories[chunk],
            np.full(len(texts[chunk]), confidence),
            np.full(len(texts[chunk]), review),
        )
    return statistics


def test_a_batch_like_the_reference_does_not_alert() -> None:
    texts, categories = TITLES * 40, CATEGORIES * 40
    ref = reference(texts, categories)
    batch = batch_like(texts, categories, 0.9, False, ref["length_edges"])
    report = compare(ref, batch, MonitorConfig(min_rows=50))
    assert not report["alert"] and report["judged"]
    assert all(check["value"] == pytest.approx(0.0, abs=1e-9) for check in report["checks"])


def test_a_shifted_batch_alerts_on_what_moved() -> None:
    ref = reference(TITLES * 40, CATEGORIES * 40)
    shifted = ["vegan suede platform sneakers with chunky soles"] * 200
    batch = batch_like(shifted, ["shoes"] * 200, 0.4, True, ref["length_edges"])
    report = compare(ref, batch, MonitorConfig(min_rows=50))
    assert report["alert"]
    assert set(report["crossed"]) == {
        "unknown_word_share",
        "length_psi",
        "category_psi",
        "mean_confidence",
        "review_share",
    }


def test_a_batch_too_small_to_judge_never_alerts() -> None:
    ref = reference(TITLES * 40, CATEGORIES * 40)
    batch = batch_like(
        ["vegan suede sneakers"] * 20, ["shoes"] * 20, 0.4, True, ref["length_edges"]
    )
    report = compare(ref, batch, MonitorConfig(min_rows=50))
    assert not report["judged"] and not report["alert"] and report["crossed"] == []
    assert any(check["crossed"] for check in report["checks"])  # still reported


def test_unscored_rows_are_counted_apart() -> None:
    statistics = BatchStatistics(length_edges=[2.0])
    statistics.add(["red boots"], KNOWN, ["shoes"], np.array([0.8]), np.array([False]), 3)
    summary = statistics.summary()
    assert summary["rows"] == 4 and summary["scored_rows"] == 1
    assert summary["unscored_share"] == 0.75
    assert summary["category_shares"] == {"shoes": 1.0}


def test_rare_categories_are_pooled() -> None:
    reference_shares = {"a": 0.5, "b": 0.3, "c": 0.1, "d": 0.1}
    names, expected, actual = pooled_categories(reference_shares, {"a": 0.4, "d": 0.6}, kept=2)
    assert names == ["a", "b", OTHER]
    np.testing.assert_allclose(expected, [0.5, 0.3, 0.2])
    np.testing.assert_allclose(actual, [0.4, 0.0, 0.6])
