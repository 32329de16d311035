"""The benchmark scripts run end to end on the fixture (their figures are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import FIXTURE_PARAMS, REPO

pytestmark = pytest.mark.slow


def run_on_fixture(script: str, tmp_path: Path, *options: str) -> dict:
    """Run a benchmark script on the fixture catalog and params; the figures it wrote."""
    out = tmp_path / "figures.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / script),
            "--data",
            str(REPO / "tests/fixtures/catalog.csv"),
            "--params",
            str(FIXTURE_PARAMS),
            *options,
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return json.loads(out.read_text(encoding="utf-8"))


def test_catalog_benchmark_writes_scores_time_throughput_and_memory(tmp_path: Path) -> None:
    figures = run_on_fixture("catalog.py", tmp_path, "--set", "train.epochs=2")
    for key in ("accuracy", "macro_f1"):
        assert 0 <= figures["model"][key] <= 1
        assert 0 <= figures["baseline"][key] <= 1
    assert figures["seconds"]["total"] > 0
    assert figures["train"]["samples_per_second"] > 0
    assert figures["peak_rss_mb"] > 0
    assert figures["params"]["train"]["epochs"] == 2


def test_scale_benchmark_grows_the_catalog_and_measures_it(tmp_path: Path) -> None:
    figures = run_on_fixture("scale.py", tmp_path, "--rows", "200")
    [size] = figures["sizes"]
    assert size["rows"] == 200
    assert 0 < size["rows_kept"]["kept"] <= 200
    for stage in ("prepare", "baseline", "train"):
        assert size[stage]["seconds"] > 0
        assert size[stage]["peak_rss_mb"] > 50  # Python with NumPy and pandas alone takes more
    assert size["train"]["peak_rss_mb"] > size["baseline"]["peak_rss_mb"]  # TensorFlow
    assert size["train_samples_per_second"] > 0
    assert figures["params"]["train"]["epochs"] == 1
