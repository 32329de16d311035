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
        "unseen_class_rows": {"val": 0, "test": 0},
    }
    assert report["split"] == {"kind": "stratified"}
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


def test_subword_ids_are_prepared_beside_the_word_ids_of_every_split() -> None:
    prepared = prepare_catalog(synthetic_catalog(), CONFIG, source="synthetic.csv")
    settings = prepared.subwords
    assert settings is not None and settings.buckets == CONFIG.subword_buckets
    for name, split in prepared.splits.items():
        token_ids = prepared.arrays[name][0]
        subword_ids = prepared.subword_ids[name]
        assert subword_ids.shape == (*token_ids.shape, CONFIG.subwords_per_word)
        assert np.all((subword_ids[..., 0] > 0) == (token_ids > 0))  # a word, its pieces
        first = split[TEXT].iloc[0].split()[0]
        ids = settings.word(first)
        assert list(subword_ids[0, 0, : len(ids)]) == list(ids)


def test_without_buckets_no_subwords_are_prepared() -> None:
    config = dataclasses.replace(CONFIG, subword_buckets=0)
    prepared = prepare_catalog(synthetic_catalog(), config, source="synthetic.csv")
    assert prepared.subwords is None and prepared.subword_ids == {}


def branded_catalog() -> pd.DataFrame:
    """20 brands (the first word) of 6 rows each, every brand selling bags and shoes; brand
    ``solo`` alone sells kitchen things."""
    rows = [
        (f"brand{b} {noun} model {i}", category)
        for b in range(20)
        for i in range(3)
        for category, noun in (("bags", "tote"), ("shoes", "boot"))
    ]
    rows += [(f"solo pan {i}", "kitchen") for i in range(6)]
    return pd.DataFrame(rows, columns=[TEXT, LABEL])


def test_a_group_split_holds_whole_brands_out_and_reports_what_it_dropped() -> None:
    config = dataclasses.replace(CONFIG, split="group", min_class_count=1, seed=0)
    prepared = prepare_catalog(branded_catalog(), config, source="branded.csv")
    brands = {name: {t.split()[0] for t in split[TEXT]} for name, split in prepared.splits.items()}
    assert not brands["train"] & brands["val"]
    assert not brands["train"] & brands["test"]
    assert not brands["val"] & brands["test"]
    report = prepared.report
    assert report["split"]["kind"] == "group"
    assert report["split"]["groups"] == {name: len(found) for name, found in brands.items()}
    dropped = report["dropped"]["unseen_class_rows"]
    held_out = sum(dropped.values())
    kitchen_in_train = "kitchen" in set(prepared.splits.train[LABEL])
    assert held_out == (0 if kitchen_in_train else 6)  # solo's rows, if it was held out
    assert report["rows"]["kept"] == sum(report["rows"][n] for n in ("train", "val", "test")) + (
        held_out
    )
    assert set(prepared.labels) == set(prepared.splits.train[LABEL])
