"""Spark scoring through mlflow.pyfunc.spark_udf on local[2] matches scoring in-process."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.e2e.conftest import Workspace

pytestmark = pytest.mark.slow


def test_spark_scores_the_champion_like_the_in_process_path(pipeline: Workspace) -> None:
    pipeline.run("prodcat", "promote")
    titles = pd.read_csv(pipeline.root / "data/prepared/test.csv", keep_default_na=False)["text"]
    # More rows than one HTTP request and one Arrow batch may hold, and rows that cannot be
    # scored, which must not fail a Spark task.
    texts = [titles[row % len(titles)] for row in range(6_000)]
    texts[3], texts[4_500] = "", "x" * 5_001
    frame = pd.DataFrame({"sku": [f"{row:05d}" for row in range(len(texts))], "title": texts})
    frame.to_csv(pipeline.root / "catalog.csv", index=False)
    local = pipeline.run(
        "prodcat",
        "predict",
        "--input",
        "catalog.csv",
        "--text-column",
        "title",
        "--output",
        "local.parquet",
    )
    assert "champion" in local.stderr
    env = {**pipeline.env, "PYSPARK_SUBMIT_ARGS": "--master local[2] pyspark-shell"}
    spark = Workspace(pipeline.root, env).run(
        "prodcat",
        "predict",
        "--engine",
        "spark",
        "--input",
        "catalog.csv",
        "--text-column",
        "title",
        "--output",
        "spark.parquet",
    )
    assert "Spark part files" in spark.stdout
    expected = pd.read_parquet(pipeline.root / "local.parquet").set_index("sku")
    found = pd.read_parquet(pipeline.root / "spark.parquet").set_index("sku").loc[expected.index]
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, rtol=1e-5)
    assert found["error"].notna().sum() == 2
    assert found["needs_review"][found["error"].notna()].all()
