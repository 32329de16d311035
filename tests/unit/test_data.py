import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodcat.data import (
    LABEL,
    TEXT,
    clean_catalog,
    file_md5,
    read_catalog,
    read_encoded,
    split_catalog,
    write_encoded,
)
from prodcat.errors import UserError


def write(tmp_path: Path, content: str | bytes, name: str = "catalog.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def read(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    return read_catalog(path, "description", "category", encoding)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("description,category\n", "has a header but no rows"),
        ("title,category\nboots,shoes\n", "no text column 'description'"),
        ("description,label\nboots,shoes\n", "no label column 'category'"),
        ("description;category\nboots;shoes\n", "no text column 'description'"),
    ],
)
def test_unreadable_catalogs_name_the_file_and_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(UserError, match=message) as raised:
        read(path)
    assert str(path) in str(raised.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="file not found"):
        read(tmp_path / "nope.csv")
    with pytest.raises(UserError, match="is a directory"):
        read(tmp_path)


def test_non_utf8_file_says_which_param_to_set(tmp_path: Path) -> None:
    path = write(tmp_path, "description,category\nchaussure élégante,shoes\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"prepare\.encoding"):
        read(path)
    assert read(path, encoding="latin-1")[TEXT].tolist() == ["chaussure élégante"]


def test_quoted_newlines_emoji_and_accents_survive(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'description,category\n"two\nlines 👟",shoes\nCrème brûlée set,kitchen\n'
    )
    frame = read(path)
    assert frame[TEXT].tolist() == ["two\nlines 👟", "Crème brûlée set"]
    assert frame[LABEL].tolist() == ["shoes", "kitchen"]


def catalog(rows: list[tuple[str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[TEXT, LABEL])


def test_cleaning_drops_and_counts_each_kind_of_bad_row() -> None:
    rows = [(f"boot {i}", "shoes") for i in range(5)] + [(f"pan {i}", "kitchen") for i in range(5)]
    rows += [("  ", "shoes"), (None, "shoes"), ("lonely pan", None), ("Boot 1!", "shoes")]
    rows += [("rare thing", "rare")]
    frame = catalog(rows)
    before = frame.copy()
    cleaned, counts = clean_catalog(frame, min_class_count=3)
    assert counts.empty_text == 2
    assert counts.missing_label == 1
    assert counts.duplicates == 1  # "Boot 1!" normalises to "boot 1"
    assert counts.rare_classes == ("rare",)
    assert counts.rows_kept == len(cleaned) == 10
    pd.testing.assert_frame_equal(frame, before)


def test_cleaning_refuses_all_blank_texts_and_a_single_class() -> None:
    with pytest.raises(UserError, match="every text is empty"):
        clean_catalog(catalog([(" ", "a"), (None, "b")]), min_class_count=3)
    with pytest.raises(UserError, match="fewer than 2 classes"):
        clean_catalog(catalog([(f"boot {i}", "shoes") for i in range(9)]), min_class_count=3)


def balanced(classes: int = 4, per_class: int = 20) -> pd.DataFrame:
    return catalog(
        [(f"item {c} {i}", f"class{c}") for c in range(classes) for i in range(per_class)]
    )


def test_split_is_stratified_disjoint_and_seeded() -> None:
    frame = balanced()
    splits = split_catalog(frame, 0.2, 0.2, seed=1)
    parts = [part for _, part in splits.items()]
    assert sum(len(part) for part in parts) == len(frame)
    texts = [set(part[TEXT]) for part in parts]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    for part in parts:
        assert set(part[LABEL]) == set(frame[LABEL])
    again = split_catalog(frame, 0.2, 0.2, seed=1)
    pd.testing.assert_frame_equal(again.test, splits.test)
    other = split_catalog(frame, 0.2, 0.2, seed=2)
    assert set(other.test[TEXT]) != set(splits.test[TEXT])


def test_a_class_too_small_to_split_is_named() -> None:
    frame = pd.concat([balanced(), catalog([("odd one", "tiny"), ("odd two", "tiny")])])
    with pytest.raises(UserError, match="class 'tiny' has 2 rows"):
        split_catalog(frame, 0.2, 0.2, seed=1)


def test_encoded_arrays_round_trip(tmp_path: Path) -> None:
    token_ids = np.arange(12, dtype=np.int32).reshape(3, 4)
    label_ids = np.array([0, 2, 1], dtype=np.int32)
    write_encoded(token_ids, label_ids, tmp_path / "split.npz")
    loaded_tokens, loaded_labels = read_encoded(tmp_path / "split.npz")
    np.testing.assert_array_equal(loaded_tokens, token_ids)
    np.testing.assert_array_equal(loaded_labels, label_ids)


def test_file_md5_is_the_plain_md5(tmp_path: Path) -> None:
    path = write(tmp_path, "description,category\nboots,shoes\n")
    assert file_md5(path) == hashlib.md5(path.read_bytes()).hexdigest()
