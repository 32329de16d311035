from pathlib import Path

import numpy as np
import pytest

from prodcat.core.text import (
    OOV_ID,
    OOV_TOKEN,
    PAD_TOKEN,
    build_vectorizer,
    choose_sequence_length,
    encode_texts,
    fit_vocabulary,
    normalize_text,
    read_labels,
    read_vocabulary,
    unknown_token_share,
    vocabulary_slices,
    write_labels,
    write_vocabulary,
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Waterproof LEATHER Boots", "waterproof leather boots"),
        ("Straße", "strasse"),  # case folding, not just lower()
        ("boots,sandals;slippers/clogs", "boots sandals slippers clogs"),
        ("Crème-brûlée set 👟 (2 pcs)", "crème brûlée set 2 pcs"),
        ("e\u0301te\u0301", "été"),  # combining accents are composed and kept
        ("ＵＳＢ－Ｃ charger", "usb c charger"),  # full-width forms
        ("snake_case\tand\nnew  lines", "snake case and new lines"),
        ("  padded   text  ", "padded text"),
        ("!!! 👟👟 ...", ""),
        ("   ", ""),
        ("", ""),
    ],
)
def test_normalize_text(raw: str, normalized: str) -> None:
    assert normalize_text(raw) == normalized


@pytest.mark.parametrize("word", ["किताब", "หนังสือ"], ids=["hindi", "thai"])
def test_normalize_text_keeps_non_latin_words_whole(word: str) -> None:
    assert normalize_text(word) == word


def test_normalizing_twice_changes_nothing() -> None:
    once = normalize_text("Crème-Brûlée SET 👟 (2 pcs)")
    assert normalize_text(once) == once


def test_vocabulary_starts_with_padding_and_unknown_then_ranks_by_frequency() -> None:
    texts = ["b a", "c a", "d b", "a"]  # a: 3, b: 2, c and d: 1
    assert fit_vocabulary(texts, max_tokens=10) == [PAD_TOKEN, OOV_TOKEN, "a", "b", "c", "d"]


def test_vocabulary_ties_are_broken_alphabetically() -> None:
    assert fit_vocabulary(["zeta alpha mid"], max_tokens=10)[2:] == ["alpha", "mid", "zeta"]


def test_vocabulary_respects_max_tokens() -> None:
    texts = ["b a", "c a", "d b", "a"]
    assert fit_vocabulary(texts, max_tokens=4) == [PAD_TOKEN, OOV_TOKEN, "a", "b"]
    assert fit_vocabulary(texts, max_tokens=3) == [PAD_TOKEN, OOV_TOKEN, "a"]


def test_vocabulary_leaves_out_words_seen_fewer_than_min_count_times() -> None:
    texts = ["b a", "c a", "d b", "a"]  # a: 3, b: 2, c and d: 1
    assert fit_vocabulary(texts, max_tokens=10, min_count=2) == [PAD_TOKEN, OOV_TOKEN, "a", "b"]
    assert fit_vocabulary(texts, max_tokens=10, min_count=3) == [PAD_TOKEN, OOV_TOKEN, "a"]


def test_unknown_share_counts_unknown_ids_among_the_real_tokens() -> None:
    token_ids = np.array([[2, OOV_ID, 0, 0], [OOV_ID, 3, 4, 0]], dtype=np.int32)
    assert unknown_token_share(token_ids) == pytest.approx(2 / 5)
    assert unknown_token_share(np.zeros((2, 3), dtype=np.int32)) == 0.0


def test_vocabulary_does_not_depend_on_the_order_of_the_texts() -> None:
    texts = ["red boot", "blue boot", "red bag", "green hat", "blue hat"]
    expected = fit_vocabulary(texts, max_tokens=100)
    assert fit_vocabulary(list(reversed(texts)), max_tokens=100) == expected
    assert fit_vocabulary(iter(texts), max_tokens=100) == expected


@pytest.mark.parametrize(
    ("percentile", "cap", "expected"),
    [
        (95, 1000, 96),  # ceil of the 95th percentile of 1..100 (95.05)
        (50, 1000, 51),  # ceil of 50.5
        (100, 1000, 100),
        (95, 20, 20),  # the cap wins
    ],
)
def test_sequence_length_follows_the_percentile_and_the_cap(
    percentile: float, cap: int, expected: int
) -> None:
    texts = [" ".join(["w"] * n) for n in range(1, 101)]
    assert choose_sequence_length(texts, percentile, cap) == expected


def test_sequence_length_is_at_least_one() -> None:
    assert choose_sequence_length(["", ""], 50, cap=10) == 1


def test_encoding_maps_known_unknown_and_padding() -> None:
    vectorizer = build_vectorizer([PAD_TOKEN, OOV_TOKEN, "red", "boots"], sequence_length=4)
    encoded = encode_texts(vectorizer, ["red boots", "red zzz boots", "boots", "qqq"])
    assert encoded.dtype == np.int32
    np.testing.assert_array_equal(encoded, [[2, 3, 0, 0], [2, 1, 3, 0], [3, 0, 0, 0], [1, 0, 0, 0]])


def test_encoding_truncates_to_the_sequence_length() -> None:
    vectorizer = build_vectorizer([PAD_TOKEN, OOV_TOKEN, "a", "b", "c"], sequence_length=3)
    encoded = encode_texts(vectorizer, ["a b c a b c"])
    np.testing.assert_array_equal(encoded, [[2, 3, 4]])
    assert encoded.shape == (1, 3)


def test_encoding_matches_accented_tokens() -> None:
    vectorizer = build_vectorizer([PAD_TOKEN, OOV_TOKEN, "crème", "été"], sequence_length=3)
    encoded = encode_texts(vectorizer, [normalize_text("Crème d'ÉTÉ")])
    np.testing.assert_array_equal(encoded, [[2, 1, 3]])


def test_vocabulary_round_trips_with_the_empty_padding_token(tmp_path: Path) -> None:
    vocabulary = [PAD_TOKEN, OOV_TOKEN, "crème", "été", "boots", "漢字"]
    path = tmp_path / "vocab.txt"
    write_vocabulary(vocabulary, path)
    assert read_vocabulary(path) == vocabulary
    assert path.read_text(encoding="utf-8").startswith("\n[UNK]\n")


def test_labels_round_trip(tmp_path: Path) -> None:
    labels = ["chaussures", "cuisine", "électronique", 'say "cheese"']
    write_labels(labels, tmp_path / "labels.json")
    assert read_labels(tmp_path / "labels.json") == labels
    assert "électronique" in (tmp_path / "labels.json").read_text(encoding="utf-8")


def test_vocabulary_slices_split_titles_on_unknown_words() -> None:
    token_ids = np.array([[2, OOV_ID, 0], [2, 3, 0], [OOV_ID, 0, 0]], dtype=np.int32)
    slices = vocabulary_slices(token_ids)
    np.testing.assert_array_equal(slices["unknown_words"], [True, False, True])
    np.testing.assert_array_equal(slices["known_words"], [False, True, False])


def test_the_vectorizer_encodes_as_keras_text_vectorization_does() -> None:
    import keras

    vocabulary = [PAD_TOKEN, OOV_TOKEN, "red", "boots", "crème", "été", "a"]
    texts = ["red boots", "red zzz boots", "", "a a a a a a a a", "crème d été", "zzz"]
    layer = keras.layers.TextVectorization(
        standardize=None,
        split="whitespace",
        output_mode="int",
        output_sequence_length=5,
        vocabulary=vocabulary,
    )
    np.testing.assert_array_equal(
        encode_texts(build_vectorizer(vocabulary, sequence_length=5), texts),
        np.asarray(layer(texts)),
    )
