import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodcat.core.catalog import (
    LABEL,
    TEXT,
    clean_catalog,
    group_split,
    split_catalog,
    take_groups,
    title_groups,
)
from prodcat.core.errors import UserError
from prodcat.io.catalog import read_catalog
from prodcat.io.files import file_md5, read_encoded, write_array


def write(tmp_path: Path, content: str | bytes, name: str = "catalog.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def read(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    return read_catalog(path, "description", "category", encoding)


def catalog(rows: list[tuple[str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[TEXT, LABEL])


def balanced(classes: int = 4, per_class: int = 20) -> pd.DataFrame:
    return catalog(
        [(f"item {c} {i}", f"class{c}") for c in range(classes) for i in range(per_class)]
    )


# read_catalog


def test_a_big_catalog_is_read_in_chunks_with_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("prodcat.io.catalog.READ_CHUNK_ROWS", 2)
    rows = "".join(f"item {i},class{i % 2}\n" for i in range(5))
    path = write(tmp_path, "description,category\n" + rows)
    with caplog.at_level("INFO", logger="prodcat.io.catalog"):
        frame = read(path)
    assert frame[TEXT].tolist() == [f"item {i}" for i in range(5)]
    assert list(frame.index) == list(range(5))
    progress = [r.getMessage() for r in caplog.records if "rows so far" in r.getMessage()]
    assert progress == [f"reading {path}: 2 rows so far", f"reading {path}: 4 rows so far"]
    assert f"read 5 rows from {path}" in caplog.text


def test_an_unclosed_quote_is_not_a_readable_csv(tmp_path: Path) -> None:
    # The other unreadable catalogs run through `prodcat prepare` in tests/data/.
    path = write(tmp_path, 'description,category\n"never closed,shoes\n')
    with pytest.raises(UserError, match="not a readable CSV") as raised:
        read(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_the_missing_column_message_lists_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "title,category,price\nboots,shoes,10\n")
    with pytest.raises(UserError, match=r"\(columns: 'title', 'category', 'price'\)"):
        read(path)


def test_non_utf8_bytes_in_the_header_say_which_param_to_set(tmp_path: Path) -> None:
    # Bytes in the rows: tests/data/test_bad_input.py, through `prodcat prepare`.
    path = write(tmp_path, "déscription,category\nboots,shoes\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"not valid utf-8; .*prepare\.encoding") as raised:
        read(path)
    assert str(path) in str(raised.value)


def test_a_latin1_file_reads_with_its_encoding(tmp_path: Path) -> None:
    path = write(
        tmp_path, "description,category\nchaussure élégante,chaussures\n".encode("latin-1")
    )
    frame = read(path, encoding="latin-1")
    assert frame.to_dict("records") == [{TEXT: "chaussure élégante", LABEL: "chaussures"}]


def test_quoted_newlines_emoji_and_accents_survive(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'description,category\n"two\nlines, one comma 👟",shoes\nCrème brûlée set,cuisine\n',
    )
    frame = read(path)
    assert list(frame.columns) == [TEXT, LABEL]
    assert frame[TEXT].tolist() == ["two\nlines, one comma 👟", "Crème brûlée set"]
    assert frame[LABEL].tolist() == ["shoes", "cuisine"]


def test_only_the_two_columns_are_kept_and_renamed(tmp_path: Path) -> None:
    path = write(tmp_path, "id,category,description\n7,shoes,boots\n")
    frame = read(path)
    assert frame.to_dict("records") == [{TEXT: "boots", LABEL: "shoes"}]


def test_na_like_words_stay_text_and_empty_cells_are_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "description,category\nNA,None\n,shoes\n")
    frame = read(path)
    assert frame.loc[0, TEXT] == "NA"
    assert frame.loc[0, LABEL] == "None"
    assert pd.isna(frame.loc[1, TEXT])


# clean_catalog


def test_cleaning_drops_and_counts_each_kind_of_bad_row() -> None:
    rows = [(f"shoe {i}", "shoes") for i in range(4)] + [(f"pan {i}", "kitchen") for i in range(4)]
    rows += [("Red Shoe", "shoes"), ("red  shoe!", "shoes")]  # duplicates once normalised
    rows += [("  ", "shoes"), (None, "shoes"), ("", "kitchen")]  # empty texts
    rows += [("lonely pan", None), ("other pan", "  ")]  # missing labels
    rows += [("rare thing", "rare"), ("rare other", "rare")]  # a rare class
    frame = catalog(rows)
    cleaned, counts = clean_catalog(frame, min_class_count=3)
    assert counts.rows_read == len(rows) == 17
    assert counts.empty_text == 3
    assert counts.missing_label == 2
    assert counts.duplicates == 1
    assert (counts.rare_class_rows, counts.rare_classes) == (2, ("rare",))
    assert counts.rows_kept == len(cleaned) == 9
    assert "red shoe" in set(cleaned[TEXT])
    assert set(cleaned[LABEL]) == {"shoes", "kitchen"}
    assert list(cleaned.index) == list(range(9))


def test_cleaning_can_keep_repeated_texts_and_counts_them_toward_the_class_size() -> None:
    rows = [("red shoe", "shoes")] * 3 + [(pan, "kitchen") for pan in ("pan", "wok", "pot")]
    kept, counts = clean_catalog(catalog(rows), min_class_count=3, drop_duplicates=False)
    assert counts.duplicates == 0
    assert counts.rows_kept == len(kept) == 6
    assert kept[LABEL].value_counts().to_dict() == {"shoes": 3, "kitchen": 3}
    _, deduplicated = clean_catalog(catalog(rows), min_class_count=1)
    assert deduplicated.duplicates == 2


def test_cleaning_normalises_texts_and_strips_labels() -> None:
    frame = catalog([("  Crème BRÛLÉE!! ", " cuisine "), ("Boots", "shoes")])
    cleaned, _ = clean_catalog(frame, min_class_count=1)
    assert cleaned.to_dict("records") == [
        {TEXT: "crème brûlée", LABEL: "cuisine"},
        {TEXT: "boots", LABEL: "shoes"},
    ]


def test_cleaning_does_not_mutate_its_input() -> None:
    frame = catalog([("Red Shoe", "shoes"), ("red shoe", "shoes"), (" ", "x"), ("Pan", "kitchen")])
    before = frame.copy()
    clean_catalog(frame, min_class_count=1)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(" ", "a"), (None, "b"), ("?!", "c")], "every text is empty or blank"),
        ([(f"boot {i}", "shoes") for i in range(9)], "fewer than 2 classes"),
        (
            [(f"boot {i}", "shoes") for i in range(9)] + [("pan", "kitchen")],
            r"fewer than 2 classes with at least 3 rows .*1 in rare classes",
        ),
    ],
)
def test_cleaning_refuses_a_catalog_with_nothing_to_learn(rows: list, message: str) -> None:
    with pytest.raises(UserError, match=message) as raised:
        clean_catalog(catalog(rows), min_class_count=3, source="shop.csv")
    assert str(raised.value).startswith("shop.csv: ")


# split_catalog


def test_split_is_stratified_and_the_sizes_add_up() -> None:
    frame = balanced(classes=4, per_class=20)
    splits = split_catalog(frame, 0.2, 0.1, seed=1)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (56, 16, 8)
    for name, part in splits.items():
        assert part[LABEL].value_counts().to_dict() == {
            f"class{c}": len(part) // 4 for c in range(4)
        }, name
        assert list(part.columns) == [TEXT, LABEL]


def test_no_row_is_in_two_splits() -> None:
    frame = balanced()
    splits = split_catalog(frame, 0.2, 0.2, seed=1)
    train, val, test = (set(part[TEXT]) for _, part in splits.items())
    assert not train & val
    assert not train & test
    assert not val & test
    assert train | val | test == set(frame[TEXT])


def test_the_same_seed_gives_the_same_split_and_another_seed_another() -> None:
    frame = balanced()
    first = split_catalog(frame, 0.2, 0.2, seed=1)
    again = split_catalog(frame, 0.2, 0.2, seed=1)
    for (name, part), (_, same) in zip(first.items(), again.items(), strict=True):
        pd.testing.assert_frame_equal(part, same, obj=name)
    other = split_catalog(frame, 0.2, 0.2, seed=2)
    assert set(other.test[TEXT]) != set(first.test[TEXT])


def test_a_class_too_small_to_split_is_named() -> None:
    frame = pd.concat([balanced(), catalog([("odd one", "tiny"), ("odd two", "tiny")])])
    with pytest.raises(UserError, match="class 'tiny' has 2 rows, too few to stratify"):
        split_catalog(frame, 0.2, 0.2, seed=1)


def test_too_few_rows_for_three_splits_are_refused() -> None:
    frame = balanced(classes=3, per_class=4)
    with pytest.raises(UserError, match="12 rows are too few for 3 classes") as raised:
        split_catalog(frame, 0.4, 0.4, seed=1, source="shop.csv")
    assert str(raised.value).startswith("shop.csv: ")


def test_a_class_that_cannot_reach_every_split_is_refused_by_name() -> None:
    """Stratification may leave a 3-row class out of validation and test: say so, don't go on."""
    frame = catalog(
        [(f"common {i}", "common") for i in range(100)] + [(f"rare {i}", "rare") for i in range(3)]
    )
    with pytest.raises(UserError, match=r"class 'rare' \(3 rows\) gets no (val|test) rows"):
        split_catalog(frame, 0.1, 0.1, seed=0)


# encoded arrays and hashes


def test_encoded_arrays_round_trip(tmp_path: Path) -> None:
    token_ids = np.arange(12, dtype=np.int32).reshape(3, 4)
    label_ids = np.array([0, 2, 1], dtype=np.int32)
    paths = (tmp_path / "split.token_ids.npy", tmp_path / "split.label_ids.npy")
    write_array(token_ids, paths[0])
    write_array(label_ids, paths[1])
    for memory_map in (False, True):
        loaded_tokens, loaded_labels = read_encoded(paths, memory_map=memory_map)
        np.testing.assert_array_equal(loaded_tokens, token_ids)
        np.testing.assert_array_equal(loaded_labels, label_ids)
        assert (loaded_tokens.dtype, loaded_labels.dtype) == (np.int32, np.int32)
        assert isinstance(loaded_tokens, np.memmap) == memory_map


def test_object_arrays_are_refused_rather_than_pickled(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pickle"):
        write_array(np.array(["boots", None], dtype=object), tmp_path / "texts.npy")


def test_file_md5_is_the_plain_md5(tmp_path: Path) -> None:
    path = write(tmp_path, "description,category\nbottes élégantes 👢,shoes\n" * 1000)
    assert file_md5(path) == hashlib.md5(path.read_bytes()).hexdigest()


# group_split


def brand_frame(sizes: dict[str, int]) -> pd.DataFrame:
    rows = [
        (f"{brand} item {i}", "shoes" if i % 2 else "bags")
        for brand, size in sizes.items()
        for i in range(size)
    ]
    return pd.DataFrame(rows, columns=[TEXT, LABEL])


def test_the_group_is_the_patterns_first_match_or_its_capture_group() -> None:
    texts = pd.Series(["nike air max", "brand adidas shoe", "x"])
    assert title_groups(texts, r"^\S+").tolist() == ["nike", "brand", "x"]
    captured = title_groups(texts, r"brand (\w+)").tolist()
    assert captured[1] == "adidas"
    assert captured[0] != captured[2]  # no match: each title is a group of its own


def test_groups_are_taken_until_the_target_skipping_those_that_overshoot_it() -> None:
    groups = pd.Series(["big"] * 50 + [f"g{i}" for i in range(50) for _ in range(2)])
    for seed in range(5):
        taken = take_groups(groups, target=20, rng=np.random.RandomState(seed))
        assert 19 <= taken.sum() <= 21  # within 5 % of the target
        assert not taken[:50].any()  # the big group would overshoot: skipped
        assert set(groups[taken]) == set(groups[taken].unique())
        chosen = set(groups[taken])
        assert taken.sum() == sum((groups == g).sum() for g in chosen)  # whole groups


def test_a_group_split_keeps_groups_apart_and_is_seeded() -> None:
    frame = brand_frame({f"brand{i}": 2 + i % 7 for i in range(60)})
    split = group_split(frame, 0.1, 0.2, seed=4, pattern=r"^\S+")
    brands = {name: {text.split()[0] for text in part[TEXT]} for name, part in split.splits.items()}
    assert not brands["train"] & (brands["val"] | brands["test"])
    assert not brands["val"] & brands["test"]
    total = len(frame)
    assert abs(len(split.splits.test) - 0.2 * total) <= 0.05 * 0.2 * total + 1e-9
    assert abs(len(split.splits.val) - 0.1 * total) <= 0.05 * 0.1 * total + 1e-9
    assert split.unseen_class_rows == {"val": 0, "test": 0}
    again = group_split(frame, 0.1, 0.2, seed=4, pattern=r"^\S+")
    pd.testing.assert_frame_equal(again.splits.test, split.splits.test)
    other = group_split(frame, 0.1, 0.2, seed=5, pattern=r"^\S+")
    assert set(other.splits.test[TEXT]) != set(split.splits.test[TEXT])


def test_a_group_split_drops_and_counts_rows_of_classes_train_never_sees() -> None:
    frame = brand_frame({f"brand{i}": 4 for i in range(30)})
    only = pd.DataFrame([(f"solo thing {i}", "kitchen") for i in range(4)], columns=[TEXT, LABEL])
    frame = pd.concat([frame, only], ignore_index=True)
    for seed in range(40):  # a seed that holds "solo" (the only kitchen brand) out
        try:
            split = group_split(frame, 0.1, 0.1, seed=seed, pattern=r"^\S+")
        except UserError:  # solo alone filled a split, then was dropped: nothing left there
            continue
        if "kitchen" not in set(split.splits.train[LABEL]):
            break
    else:
        pytest.fail("no seed held the one-class brand out")
    assert sum(split.unseen_class_rows.values()) == 4
    for part in (split.splits.val, split.splits.test):
        assert "kitchen" not in set(part[LABEL])


def test_a_pattern_with_too_few_groups_is_a_user_error() -> None:
    frame = brand_frame({"same": 30})
    with pytest.raises(UserError, match="group_pattern"):
        group_split(frame, 0.1, 0.1, seed=0, pattern=r"^\S+")
