"""The catalog growth of ``benchmarks/scale.py``: sizes, labels and perturbations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.unit.benchmark_scripts import load_benchmark

scale = load_benchmark("scale")

CATALOG = pd.DataFrame(
    {
        "title": [f"blue cotton shirt model {i}" for i in range(50)]
        + [f"red leather boots size {i}" for i in range(50)],
        "kind": ["Shirts"] * 50 + ["Boots"] * 50,
    }
)


TEMPLATES = {
    "Shirts": {"blue", "cotton", "shirt", "model"},
    "Boots": {"red", "leather", "boots", "size"},
}


def test_grown_catalog_has_the_rows_asked_and_keeps_labels_with_their_texts() -> None:
    grown = grow(1_000)
    assert len(grown) == 1_000
    assert list(grown.columns) == ["title", "kind"]
    for text, kind in zip(grown["title"], grown["kind"], strict=True):
        words = set(text.split())
        other = "Boots" if kind == "Shirts" else "Shirts"
        assert words & TEMPLATES[kind], (text, kind)  # three edits leave one template word

        assert not words & TEMPLATES[other], (text, kind)


def test_class_shares_are_kept_and_the_input_is_untouched() -> None:
    before = CATALOG.copy()
    grown = grow(4_000)
    assert abs((grown["kind"] == "Shirts").mean() - 0.5) < 0.05
    pd.testing.assert_frame_equal(CATALOG, before)


def test_copies_are_perturbed_and_the_growth_is_seeded() -> None:
    grown = grow(2_000)
    changed = ~grown["title"].isin(set(CATALOG["title"]))
    assert changed.mean() > 0.9  # every copy is edited; a few edits undo themselves
    pd.testing.assert_frame_equal(grown, grow(2_000))
    assert not grown.equals(scale.grow_catalog(CATALOG, "title", 2_000, seed=1))


def test_perturb_makes_one_to_three_edits() -> None:
    rng = np.random.default_rng(0)
    original = "blue cotton shirt model"
    variants = [scale.perturb(original, rng) for _ in range(300)]
    assert all(len(variant.split()) in (2, 3, 4) for variant in variants)  # at most 2 dropped
    assert len(set(variants)) > 150  # copies of one title seldom coincide


def grow(rows: int) -> pd.DataFrame:
    return scale.grow_catalog(CATALOG, "title", rows, seed=0)
