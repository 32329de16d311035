import pandas as pd

from prodcat.config import PrepareConfig
from prodcat.data import LABEL, TEXT
from prodcat.stages.prepare import prepare_catalog
from prodcat.text import choose_sequence_length


def synthetic_catalog() -> pd.DataFrame:
    nouns = {"bags": "tote", "shoes": "boot", "tops": "shirt", "kitchen": "pan"}
    rows = [
        (f"{noun} number {i} " + "extra " * (i % 5), category)
        for category, noun in nouns.items()
        for i in range(15)
    ]
    return pd.DataFrame(rows, columns=["description", "category"]).rename(
        columns={"description": TEXT, "category": LABEL}
    )


def test_prepare_encodes_every_split_consistently() -> None:
    config = PrepareConfig(min_class_count=5, val_fraction=0.2, test_fraction=0.2)
    prepared = prepare_catalog(synthetic_catalog(), config, source="synthetic.csv")
    rows = prepared.report["rows"]
    assert rows["kept"] == rows["train"] + rows["val"] + rows["test"] == 60
    assert prepared.labels == ["bags", "kitchen", "shoes", "tops"]
    sequence_length = prepared.report["tokens"]["sequence_length"]
    for name, split in prepared.splits.items():
        token_ids, label_ids = prepared.arrays[name]
        assert token_ids.shape == (len(split), sequence_length)
        assert label_ids.min() >= 0 and label_ids.max() < len(prepared.labels)
        decoded = [prepared.labels[i] for i in label_ids]
        assert decoded == split[LABEL].tolist()
    train_texts = prepared.splits.train[TEXT].tolist()
    assert sequence_length == choose_sequence_length(train_texts, 95, 128)


def test_vocabulary_comes_from_the_training_split_only() -> None:
    config = PrepareConfig(min_class_count=5, val_fraction=0.2, test_fraction=0.2)
    prepared = prepare_catalog(synthetic_catalog(), config, source="synthetic.csv")
    train_words = {word for text in prepared.splits.train[TEXT] for word in text.split()}
    test_only = {word for text in prepared.splits.test[TEXT] for word in text.split()} - train_words
    assert test_only  # the item numbers of test rows
    assert not test_only & set(prepared.vocabulary)
    assert set(prepared.vocabulary[2:]) <= train_words
