import dataclasses

import numpy as np
import pandas as pd
import pytest

from prodcat.core.catalog import LABEL, TEXT
from prodcat.core.config import PrepareConfig
from prodcat.core.errors import UserError
from prodcat.core.preparation import prepare_catalog
from prodcat.core.text import OOV_ID

NOUNS = {"bags": "tote", "shoes": "boot", "tops": "shirt", "kitchen": "pan"}
CONFIG = PrepareConfig(
    min_class_count=5, val_fraction=0.2, test_fraction=0.2, seed=3, min_token_count=1
)


def synthetic_catalog() -> pd.DataFrame:
    """4 classes × 15 rows of 2 to 6 words; every row has its own id word ``r<class><row>``."""
    rows = [
        (f"{noun} r{c}x{i} " + "extra " * (i % 5), category)
        for c, (category, noun) in enumerate(NOUNS.items())
        for i in range(15)
    ]
    return pd.DataFrame(rows, columns=[TEXT, LABEL])


def test_arrays_match_their_splits_and_label_ids_are_in_range() -> None:
    prepared = prepare_catalog(synthetic_catalog(), CONFIG, source="synthetic.csv")
    assert prepared.labels == ["bags", "kitchen", "shoes", "tops"]  # the encoder sorts
    sequence_length = prepared.report["tokens"]["sequence_length"]
    for name, split in prepared.splits.items():
        token_ids, label_ids = prepared.arrays[name]
        assert token_ids.shape == (len(split), sequence_length), name
        assert label_ids.shape == (len(split),), name
        assert (token_ids.dtype, label_ids.dtype) == (np.int32, np.int32)
        assert label_ids.min() >= 0 and label_ids.max() < len(prepared.labels)
        assert [prepared.labels[i] for i in label_ids] == split[LABEL].tolist()


def test_token_ids_decode_back_to_the_training_texts() -> None:
    prepared = prepare_catalog(synthetic_catalog(), CONFIG, source="synthetic.csv")
    token_ids, _ = prepared.arrays["train"]
    length = token_ids.shape[1]
    for ids, text in zip(token_ids, prepared.splits.train[TEXT], strict=True):
        words = [prepared.vocabulary[i] for i in ids if i != 0]
        assert words == text.split()[:length]


def test_words_seen_once_in_training_become_unknown_in_every_split() -> None:
    config = dataclasses.replace(CONFIG, min_token_count=2)
    prepared = prepare_catalog(synthetic_catalog(), config, source="synthetic.csv")
    assert not any(word.startswith("r") and "x" in word for word in prepared.vocabulary)
    assert {"tote", "boot", "shirt", "pan", "extra"} <= set(prepared.vocabulary)
    shares = prepared.report["tokens"]["unknown_share"]
    for name, (token_ids, _) in prepared.arrays.items():
        assert np.all(token_ids[:, 1] == OOV_ID), name  # each title's own id word
        real = np.count_nonzero(token_ids)
        assert shares[name] == round(np.count_nonzero(token_ids == OOV_ID) / real, 4)
    assert shares["train"] > 0


def test_with_every_word_kept_only_unseen_words_are_unknown() -> None:
    shares = prepare_catalog(synthetic_catalog(), CONFIG, source="synthetic.csv").report["tokens"][
        "unknown_share"
    ]
    assert shares["train"] == 0
    assert shares["test"] > 0  # the test titles' own id words


def test_the_vocabulary_is_fitted_on_the_training_split_only() -> None:
    prepared = prepare_catalog(synthetic_catalog(), CONFIG, source="synthetic.csv")
    train_words = {word for text in prepared.splits.train[TEXT] for word in text.split()}
    test_words = {word for text in prepared.splits.test[TEXT] for word in text.split()}
    test_only = test_words - train_words
    assert len(test_only) == len(prepared.splits.test)  # the id word of each test row
    assert not test_only & set(prepared.vocabulary)
    assert set(prepared.vocabulary[2:]) == train_words
    test_ids, _ = prepared.arrays["test"]
    assert np.all(test_ids[:, 1] == 1)  # the id word is encoded as unknown


def test_the_report_counts_add_up() -> None:
    dirty = pd.DataFrame(
        [("   ", "bags"), ("Tote r0x0", "bags"), ("lost pan", ""), ("odd", "rare")],
        columns=[TEXT, LABEL],
    )
    frame = pd.concat([synthetic_catalog(), dirty], ignore_index=True)
    report = prepare_catalog(frame, CONFIG, source="synthetic.csv").report
    assert report["source"] == {"path": "synthetic.csv", "rows": 64}
    assert report["dropped"] == {
        "empty_text": 1,
        "missing_label": 1,
        "duplicates": 1,
        "rare_class_rows": 1,
        "rare_classes": ["rare"],
    }
    rows = report["rows"]
    assert rows["kept"] == rows["train"] + rows["val"] + rows["test"] == 60
    assert (rows["val"], rows["test"]) == (12, 12)
    assert report["classes"] == 4
    assert report["class_counts"] == dict.fromkeys(NOUNS, 15)
    assert report["params"]["seed"] == 3


@pytest.mark.parametrize("percentile", [50.0, 80.0, 100.0])
def test_the_sequence_length_follows_the_percentile_of_training_lengths(
    percentile: float,
) -> None:
    config = PrepareConfig(
        min_class_count=5, val_fraction=0.2, test_fraction=0.2, length_percentile=percentile
    )
    prepared = prepare_catalog(synthetic_catalog(), config, source="synthetic.csv")
    lengths = [len(text.split()) for text in prepared.splits.train[TEXT]]
    expected = int(np.ceil(np.percentile(lengths, percentile)))
    tokens = prepared.report["tokens"]
    assert tokens["sequence_length"] == expected
    assert tokens["truncated_train_texts"] == sum(length > expected for length in lengths)
    assert tokens["vocabulary_size"] == len(prepared.vocabulary)


def test_the_sequence_length_is_capped() -> None:
    config = PrepareConfig(min_class_count=5, val_fraction=0.2, test_fraction=0.2, max_length_cap=2)
    prepared = prepare_catalog(synthetic_catalog(), config, source="synthetic.csv")
    assert prepared.report["tokens"]["sequence_length"] == 2
    assert prepared.arrays["val"][0].shape[1] == 2


def test_the_same_config_prepares_the_same_data() -> None:
    first = prepare_catalog(synthetic_catalog(), CONFIG, source="synthetic.csv")
    again = prepare_catalog(synthetic_catalog(), CONFIG, source="synthetic.csv")
    assert again.vocabulary == first.vocabulary
    for name, (token_ids, label_ids) in first.arrays.items():
        np.testing.assert_array_equal(again.arrays[name][0], token_ids)
        np.testing.assert_array_equal(again.arrays[name][1], label_ids)


def test_a_class_missing_from_a_split_is_a_user_error_not_a_crash() -> None:
    frame = pd.DataFrame(
        [(f"common {i}", "common") for i in range(100)] + [(f"rare {i}", "rare") for i in range(3)],
        columns=[TEXT, LABEL],
    )
    config = PrepareConfig(min_class_count=3, val_fraction=0.45, test_fraction=0.45, seed=1)
    with pytest.raises(UserError, match="class 'rare'"):
        prepare_catalog(frame, config, source="synthetic.csv")
