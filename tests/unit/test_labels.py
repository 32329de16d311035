import pandas as pd

from prodcat.core.labels import (
    conflicting_titles,
    label_key,
    lookalike_labels,
    merge_label_variants,
    one_edit_apart,
)


def test_label_variants_merge_into_the_most_frequent_spelling() -> None:
    labels = pd.Series(
        ["Footwear"] * 3 + ["footwear"] * 5 + ["FOOTWEAR ", "Foot\u00a0 wear"] + ["Bags"] * 2
    ).str.strip()
    merged, merges = merge_label_variants(labels)
    assert set(merged) == {"footwear", "Foot\u00a0 wear", "Bags"}
    assert merges == [
        {"into": "footwear", "spellings": {"footwear": 5, "Footwear": 3, "FOOTWEAR": 1}}
    ]
    assert label_key("Ｆｏｏｔ  Wear") == "foot wear"  # NFKC: full-width letters


def test_lookalikes_are_plurals_and_one_edit_pairs_not_short_labels() -> None:
    found = lookalike_labels(["Shirt", "Shirts", "Watch", "Watches", "Kurta", "Kurti", "S", "M"])
    pairs = {tuple(item["labels"]): item["why"] for item in found}
    assert pairs == {
        ("Shirt", "Shirts"): "singular and plural",
        ("Watch", "Watches"): "singular and plural",
        ("Kurta", "Kurti"): "one edit apart",
    }


def test_one_edit_apart() -> None:
    assert one_edit_apart("boots", "boot")
    assert one_edit_apart("boat", "boot")
    assert one_edit_apart("bot", "boot")
    assert not one_edit_apart("boot", "boot")
    assert not one_edit_apart("boot", "bolts")
    assert not one_edit_apart("ab", "ba")


def test_identical_titles_under_different_labels_are_counted_and_sampled() -> None:
    texts = pd.Series(["red shoe", "red shoe", "red shoe", "blue bag", "blue bag"] + ["x"] * 2)
    labels = pd.Series(["Shoes", "Shoes", "Bags", "Bags", "Bags", "A", "B"])
    found = conflicting_titles(texts, labels, sample=1)
    assert found["titles"] == 2
    assert found["rows"] == 5
    assert found["sample"] == [{"text": "red shoe", "labels": {"Bags": 1, "Shoes": 2}}]
