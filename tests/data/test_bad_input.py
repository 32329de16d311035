"""Bad catalogs and params through the real `prodcat prepare`: one clear line, nothing written.

Each case runs the CLI entry point in-process in its own folder with its own params.yaml.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from prodcat.cli import main as cli

REPO = Path(__file__).resolve().parents[2]
HEADER = "description,category\n"


def good_rows(classes: int = 3, per_class: int = 12) -> str:
    return "".join(
        f"product {c} number {i} with words,class{c}\n"
        for c in range(classes)
        for i in range(per_class)
    )


@pytest.fixture
def run_prepare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str]]:
    """Write the catalog and params into an empty folder, run `prodcat prepare` there."""
    monkeypatch.chdir(tmp_path)

    def run(catalog: str | bytes | None, debug: bool = False, **prepare: object) -> tuple[int, str]:
        params = yaml.safe_load((REPO / "tests/fixtures/params.yaml").read_text(encoding="utf-8"))
        params["prepare"].update({"path": "catalog.csv", "min_class_count": 3, **prepare})
        Path("params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
        if isinstance(catalog, bytes):
            Path("catalog.csv").write_bytes(catalog)
        elif isinstance(catalog, str):
            Path("catalog.csv").write_text(catalog, encoding="utf-8")
        code = cli.main(["--debug", "prepare"] if debug else ["prepare"])
        return code, capsys.readouterr().err

    return run


def assert_one_line_error(code: int, stderr: str, *expected: str) -> None:
    assert code == 2
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("prodcat: error: ")
    assert "Traceback" not in stderr
    for text in expected:
        assert text in lines[-1]
    assert not Path("data/prepared").exists()  # nothing half-written


@pytest.mark.parametrize(
    ("catalog", "expected"),
    [
        (None, ("catalog.csv: file not found", "prepare.path")),
        ("", ("catalog.csv: file is empty",)),
        (HEADER, ("catalog.csv: has a header but no rows",)),
        ("title,category\n" + "boots,shoes\n", ("no text column 'description'", "text_column")),
        ("description,label\n" + "boots,shoes\n", ("no label column 'category'",)),
        ("description;category\nboots;shoes\n", ("no text column", "seems to use ';'")),
        (HEADER + "".join(f"  ,c{i % 3}\n" for i in range(30)), ("every text is empty",)),
        (HEADER + "".join(f"item {i},only\n" for i in range(30)), ("fewer than 2 classes",)),
        (HEADER + "same text,a\n" * 20 + "same text,b\n" * 20, ("39 duplicates",)),
        (
            "," * 100_000 + "x\n" + "a," * 100_000 + "b\n",
            ("no text column 'description'", ", ..."),
        ),
    ],
    ids=[
        "missing-file",
        "empty-file",
        "header-only",
        "no-text-column",
        "no-label-column",
        "wrong-delimiter",
        "all-blank-texts",
        "single-class",
        "all-duplicates",
        "100k-columns",
    ],
)
def test_bad_catalogs_fail_with_one_line_naming_file_and_problem(
    run_prepare, catalog: str | None, expected: tuple[str, ...]
) -> None:
    code, stderr = run_prepare(catalog)
    assert_one_line_error(code, stderr, "catalog.csv", *expected)


def test_a_directory_instead_of_a_file(run_prepare) -> None:
    Path("folder.csv").mkdir()
    code, stderr = run_prepare(None, path="folder.csv")
    assert_one_line_error(code, stderr, "folder.csv: is a directory")


def test_non_utf8_file_names_the_encoding_param(run_prepare) -> None:
    catalog = (HEADER + good_rows() + "chaussure élégante,class0\n").encode("latin-1")
    code, stderr = run_prepare(catalog)
    assert_one_line_error(code, stderr, "not valid utf-8", "prepare.encoding")
    code, _ = run_prepare(catalog, encoding="latin-1")
    assert code == 0


def test_a_class_too_small_to_stratify_is_named(run_prepare) -> None:
    code, stderr = run_prepare(
        HEADER + good_rows() + "odd one,tiny\nodd two,tiny\n", min_class_count=2
    )
    assert_one_line_error(code, stderr, "class 'tiny' has 2 rows")


def test_debug_shows_the_traceback(run_prepare) -> None:
    with pytest.raises(Exception, match="file not found"):
        run_prepare(None, debug=True)


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        (
            {"min_clas_count": 3},
            "unknown key 'prepare.min_clas_count'; did you mean 'min_class_count'",
        ),
        ({"seed": "forty-two"}, "prepare.seed is 'forty-two' (str); expected int"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "must sum below 1"),
        ({"max_tokens": 0}, "prepare.max_tokens must be at least 3"),
    ],
)
def test_bad_params_name_the_key(run_prepare, prepare: dict, expected: str) -> None:
    code, stderr = run_prepare(HEADER + good_rows(), **prepare)
    assert_one_line_error(code, stderr, "params.yaml", expected)


def test_missing_params_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = cli.main(["prepare"])
    assert_one_line_error(code, capsys.readouterr().err, "params.yaml: params file not found")


def test_awkward_but_valid_catalogs_work_and_drops_are_counted(run_prepare) -> None:
    awkward = [
        '"waterproof\nboots, two lines",class0\n',  # a quoted newline
        "Crème brûlée torch 🔥 for the café,class1\n",  # accents and emoji
        "huge " + "word " * 200_000 + ",class2\n",  # a 1 MB cell
        ",class0\n",  # an empty text
        "no label here,\n",  # a missing label
    ]
    catalog = HEADER + good_rows() + "".join(awkward)
    code, stderr = run_prepare(catalog, max_length_cap=16)
    assert code == 0, stderr
    report = json.loads(Path("data/prepared/data_report.json").read_text(encoding="utf-8"))
    assert report["dropped"]["empty_text"] == 1
    assert report["dropped"]["missing_label"] == 1
    assert report["rows"]["kept"] == 36 + 3
    texts = "\n".join(
        Path(f"data/prepared/{split}.csv").read_text(encoding="utf-8")
        for split in ("train", "val", "test")
    )
    assert "crème brûlée torch for the café" in texts


def test_a_numeric_label_column_is_read_as_text(run_prepare) -> None:
    rows = "".join(f"item {c} {i},{c * 10}\n" for c in range(3) for i in range(12))
    code, stderr = run_prepare(HEADER + rows)
    assert code == 0, stderr
    labels = json.loads(Path("data/prepared/labels.json").read_text(encoding="utf-8"))
    assert labels == ["0", "10", "20"]


@pytest.fixture(autouse=True)
def _no_tracking_side_effects(monkeypatch: pytest.MonkeyPatch) -> None:
    """prepare never talks to MLflow; make sure a stray URI could not hide that."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setitem(os.environ, "TF_CPP_MIN_LOG_LEVEL", "3")


def read_report() -> dict:
    return json.loads(Path("data/prepared/data_report.json").read_text(encoding="utf-8"))


def test_labels_differing_in_case_space_or_unicode_form_are_one_class(run_prepare) -> None:
    rows = "".join(
        f"leather boot {i},{spelling}\n"
        for i, spelling in enumerate(["Footwear"] * 14 + ["footwear"] * 12 + ["FOOTWEAR"] * 12)
    )
    rows += "".join(f"canvas tote {i},Ｂａｇｓ\n" for i in range(12))  # full-width letters
    rows += "".join(f"canvas tote bag {i}, Bags \n" for i in range(13))
    code, stderr = run_prepare(HEADER + rows + good_rows())
    assert code == 0, stderr
    labels = json.loads(Path("data/prepared/labels.json").read_text(encoding="utf-8"))
    assert labels == ["Bags", "Footwear", "class0", "class1", "class2"]
    merged = read_report()["labels"]["merged"]
    assert merged == [
        {"into": "Bags", "spellings": {"Bags": 13, "Ｂａｇｓ": 12}},
        {"into": "Footwear", "spellings": {"Footwear": 14, "FOOTWEAR": 12, "footwear": 12}},
    ]
    code, stderr = run_prepare(HEADER + rows + good_rows(), merge_label_variants=False)
    assert code == 0, stderr
    assert len(json.loads(Path("data/prepared/labels.json").read_text(encoding="utf-8"))) == 8


def test_labels_that_look_like_variants_are_warned_about_not_merged(
    run_prepare, caplog: pytest.LogCaptureFixture
) -> None:
    rows = "".join(f"item {i} {label},{label}\n" for label in ("Shirt", "Shirts") for i in range(4))
    code, stderr = run_prepare(HEADER + rows + good_rows())
    assert code == 0, stderr
    assert read_report()["labels"]["lookalikes"][0] == {
        "labels": ["Shirt", "Shirts"],
        "why": "singular and plural",
    }
    warning = next(r.getMessage() for r in caplog.records if "look like variants" in r.message)
    assert "'Shirt' / 'Shirts' (singular and plural)" in warning


def test_one_title_under_several_labels_is_counted_in_the_report(run_prepare) -> None:
    rows = "Red  Shoe!,class0\nred shoe,class1\nred shoe,class1\n"
    code, stderr = run_prepare(HEADER + good_rows() + rows)
    assert code == 0, stderr
    conflicts = read_report()["conflicting_titles"]
    assert conflicts["titles"] == 1 and conflicts["rows"] == 3
    assert conflicts["sample"] == [{"text": "red shoe", "labels": {"class0": 1, "class1": 2}}]


def test_a_runaway_title_is_cut_and_cannot_flood_the_vocabulary(run_prepare) -> None:
    runaway = " ".join(f"w{i}" for i in range(40_000))  # about 200,000 characters
    catalog = HEADER + good_rows() + f"{runaway},class0\n{runaway}x,class1\n"
    code, stderr = run_prepare(catalog, min_token_count=1, max_title_chars=100)
    assert code == 0, stderr
    report = read_report()
    assert report["cut_titles"] == 2
    assert report["tokens"]["vocabulary_size"] < 100
    settings = json.loads(Path("data/prepared/text.json").read_text(encoding="utf-8"))
    assert settings == {"max_title_chars": 100}


def test_a_repeated_header_name_is_an_error_naming_it(run_prepare) -> None:
    catalog = "description,category,category\n" + "boots,shoes,bags\n" * 30
    code, stderr = run_prepare(catalog)
    assert_one_line_error(code, stderr, "catalog.csv", "'category'", "2 times")


def test_a_padded_column_name_is_found_and_noted(
    run_prepare, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    catalog = "description, Category Label\n" + good_rows()
    code, stderr = run_prepare(catalog, label_column="Category Label")
    assert code == 0, stderr
    assert any("' Category Label'" in record.getMessage() for record in caplog.records)


def test_a_missing_column_shows_the_names_quoted_and_the_closest(run_prepare) -> None:
    catalog = "description, Category  Label\n" + good_rows()
    code, stderr = run_prepare(catalog, label_column="Category Label")
    assert_one_line_error(
        code, stderr, "'Category Label'", "' Category  Label'", "the closest is ' Category  Label'"
    )


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ("utf-16", "starts with a UTF-16 byte-order mark"),
        (
            "utf-16-le",
            "looks like UTF-16 without a byte-order mark: set prepare.encoding: utf-16-le",
        ),
        ("utf-32", "starts with a UTF-32 byte-order mark"),
    ],
)
def test_a_utf16_file_is_named_for_what_it_is_and_no_nul_is_printed(
    run_prepare, codec: str, expected: str
) -> None:
    catalog = (HEADER + good_rows()).encode(codec)
    for encoding in ("utf-8", "latin-1"):
        code, stderr = run_prepare(catalog, encoding=encoding)
        assert_one_line_error(code, stderr, "catalog.csv", expected)
        assert "\x00" not in stderr
    code, stderr = run_prepare(catalog, encoding=codec)
    assert code == 0, stderr


def test_a_utf8_byte_order_mark_is_skipped(run_prepare) -> None:
    code, stderr = run_prepare(("\ufeff" + HEADER + good_rows()).encode("utf-8"))
    assert code == 0, stderr
