"""Bad catalogs and params through the real `prodcat prepare`: one clear line, nothing written.

Each case runs the CLI entry point in-process in its own folder with its own params.yaml.
"""

from __future__ import annotations

import json
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
