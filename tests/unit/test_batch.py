"""Scoring a table in chunks (serving/batch.py, io/tables.py): order, errors, formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodcat.core.calibration import Calibration
from prodcat.core.drift import BatchStatistics
from prodcat.core.errors import UserError
from prodcat.io.tables import InputTable, table_writer
from prodcat.serving.batch import OUTPUT_COLUMNS, BatchScorer, row_error
from prodcat.serving.requests import MAX_TEXT_CHARS, MAX_TEXTS_PER_REQUEST
from tests.unit.tiny_model import LABELS, VOCABULARY, tiny_predictor


@pytest.fixture(scope="module")
def scorer() -> BatchScorer:
    calibration = Calibration(temperature=1.5, threshold=0.5, target_precision=0.9)
    return BatchScorer(tiny_predictor(calibration), frozenset(VOCABULARY[2:]), None)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("red boots", None),
        ("", "blank text"),
        ("   ", "blank text"),
        (None, "missing text"),
        (float("nan"), "missing text"),
        (pd.NA, "missing text"),
        (5, "not text (int)"),
        ("x" * (MAX_TEXT_CHARS + 1), f"{MAX_TEXT_CHARS + 1} characters; the limit is 5000"),
    ],
)
def test_each_row_that_cannot_be_scored_says_why(value: object, error: str | None) -> None:
    assert row_error(value) == error


def test_a_chunk_keeps_its_rows_in_order_with_their_errors(scorer: BatchScorer) -> None:
    chunk = pd.DataFrame(
        {
            "id": ["007", "008", "009", "010"],
            "description": ["red boots", "", "tote bag", "x" * (MAX_TEXT_CHARS + 1)],
            "category": ["shoes", "bags", "bags", "tops"],  # a labelled catalog's truth
        }
    )
    scored = scorer.score(chunk, "description")
    assert list(scored.columns) == ["id", "description", "category_input", *OUTPUT_COLUMNS]
    assert scored["id"].tolist() == ["007", "008", "009", "010"]
    assert scored["error"].isna().tolist() == [True, False, True, False]
    assert scored.loc[1, "error"] == "blank text"
    assert scored["category"].isna().tolist() == [False, True, False, True]
    assert scored["needs_review"][[1, 3]].all()  # an unscorable row goes to a person
    alone = scorer.score(pd.DataFrame({"description": ["tote bag"]}), "description")
    assert scored.loc[2, "category"] == alone.loc[0, "category"]
    assert scored.loc[2, "probability"] == pytest.approx(alone.loc[0, "probability"])


def test_a_batch_larger_than_a_request_is_scored_whole(scorer: BatchScorer) -> None:
    rows = MAX_TEXTS_PER_REQUEST + 1
    scored = scorer.score(pd.DataFrame({"description": ["red boots"] * rows}), "description")
    assert len(scored) == rows and scored["error"].isna().all()
    assert set(scored["category"]) <= set(LABELS)


def test_drift_counts_follow_the_scored_rows(scorer: BatchScorer) -> None:
    statistics = BatchStatistics(length_edges=[1.0, 2.0])
    chunk = pd.DataFrame({"description": ["red boots", "", "red suede boots"]})
    scored = scorer.score(chunk, "description", statistics)
    summary = statistics.summary()
    assert summary["rows"] == 3 and summary["scored_rows"] == 2
    assert summary["unknown_word_share"] == 0.5  # "suede"
    assert summary["mean_confidence"] == pytest.approx(scored["probability"].mean(), abs=1e-6)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tables_round_trip_in_chunks(tmp_path: Path, suffix: str, scorer: BatchScorer) -> None:
    texts = ["red boots", "", "tote bag", "blue shirt", "bag"] * 7
    source = tmp_path / f"in{suffix}"
    frame = pd.DataFrame({"sku": [f"{i:05d}" for i in range(len(texts))], "description": texts})
    with table_writer(source) as writer:
        writer.write(frame)
    table = InputTable.open(source, "description")
    assert table.row_count() == len(texts)
    target = tmp_path / f"out{suffix}"
    with table_writer(target) as writer:
        for chunk in table.chunks(4):
            writer.write(scorer.score(chunk, "description"))
    back = pd.read_csv(target, dtype={"sku": str}) if suffix == ".csv" else pd.read_parquet(target)
    assert back["sku"].tolist() == frame["sku"].tolist()
    assert back["error"].notna().sum() == 7
    assert back["needs_review"].dtype == np.bool_


def test_a_missing_column_or_format_fails_before_any_model(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("title\nred boots\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"no column 'description'.*columns: title"):
        InputTable.open(source, "description")
    with pytest.raises(UserError, match="unknown table format"):
        InputTable.open(tmp_path / "in.xlsx", "title")
    with pytest.raises(UserError, match="not found"):
        InputTable.open(tmp_path / "missing.csv", "title")
