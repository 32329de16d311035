from pathlib import Path

import numpy as np
import pytest

from prodcat.text import (
    OOV_TOKEN,
    PAD_TOKEN,
    build_vectorizer,
    choose_sequence_length,
    encode_texts,
    fit_vocabulary,
    normalize_text,
    read_labels,
    read_vocabulary,
    write_labels,
    write_vocabulary,
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Waterproof  LEATHER boots!", "waterproof leather boots"),
        ("Crème-brûlée  set 👟 (2 pcs)", "crème brûlée set 2 pcs"),
        ("ＵＳＢ－Ｃ charger", "usb c charger"),
        ("snake_case\tand\nnewlines", "snake case and newlines"),
        ("   ", ""),
    ],
)
def test_normalize_text(raw: str, normalized: str) -> None:
    assert normalize_text(raw) == normalized


def test_vocabulary_ranks_by_frequency_then_alphabetically() -> None:
    texts = ["b a", "c a", "d b", "a"]
    vocabulary = fit_vocabulary(texts, max_tokens=10)
    assert vocabulary == [PAD_TOKEN, OOV_TOKEN, "a", "b", "c", "d"]
    assert fit_vocabulary(texts, max_tokens=4) == [PAD_TOKEN, OOV_TOKEN, "a", "b"]
    assert fit_vocabulary(list(reversed(texts)), max_tokens=10) == vocabulary


def test_sequence_length_follows_the_percentile_and_the_cap() -> None:
    texts = ["w " * n for n in range(1, 101)]
    assert choose_sequence_length(texts, 95, cap=1000) == 96
    assert choose_sequence_length(texts, 95, cap=20) == 20
    assert choose_sequence_length([""], 50, cap=10) == 1


def test_encoding_maps_known_unknown_and_padding() -> None:
    vectorizer = build_vectorizer([PAD_TOKEN, OOV_TOKEN, "red", "boots"], sequence_length=3)
    encoded = encode_texts(vectorizer, ["red boots", "red zzz boots extra", "boots"])
    assert encoded.dtype == np.int32
    np.testing.assert_array_equal(encoded, [[2, 3, 0], [2, 1, 3], [3, 0, 0]])


def test_vocabulary_and_labels_round_trip(tmp_path: Path) -> None:
    vocabulary = [PAD_TOKEN, OOV_TOKEN, "crème", "été", "boots"]
    write_vocabulary(vocabulary, tmp_path / "vocab.txt")
    assert read_vocabulary(tmp_path / "vocab.txt") == vocabulary
    labels = ["chaussures", "cuisine", "électronique"]
    write_labels(labels, tmp_path / "labels.json")
    assert read_labels(tmp_path / "labels.json") == labels
