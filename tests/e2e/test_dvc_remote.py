"""Sharing data and outputs through a DVC remote: push from one clone, pull into a fresh one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import Workspace, make_workspace

pytestmark = pytest.mark.slow

RAW = "data/raw/team_catalog.csv"


def test_a_fresh_clone_pulls_data_and_outputs_and_has_nothing_to_rerun(tmp_path: Path) -> None:
    first = make_workspace(tmp_path / "first")
    # A team's catalog is too big for git: DVC tracks it and the remote stores it.
    shutil.copy2(first.root / "tests/fixtures/catalog.csv", first.root / RAW)
    first.run("dvc", "add", RAW)
    first.set_params("prepare", path=RAW)
    remote = tmp_path / "remote"  # a local-path remote; s3://, gs://, ssh://... work the same
    first.run("dvc", "remote", "add", "--default", "shared", str(remote))
    first.run("dvc", "repro")
    first.run("git", "add", "--all")
    first.run("git", "commit", "--quiet", "-m", "team catalog, pipeline run, shared remote")
    pushed = first.run("dvc", "push")
    assert "pushed" in pushed.stdout.lower()

    second = Workspace(root=tmp_path / "second", env=first.env)
    first.run("git", "clone", "--quiet", str(first.root), str(second.root))
    assert not (second.root / RAW).exists()
    assert not (second.root / "models/model.keras").exists()
    second.run("dvc", "pull")
    for path in (
        RAW,
        "models/model.keras",
        "data/prepared/train.token_ids.npy",
        "models/export/MLmodel",
    ):
        assert (second.root / path).read_bytes() == (first.root / path).read_bytes(), path
    assert "Data and pipelines are up to date" in second.run("dvc", "status").stdout
    repro = second.run("dvc", "repro")
    assert "Running stage" not in repro.stdout
    labels = json.loads((second.root / "data/prepared/labels.json").read_text(encoding="utf-8"))
    predicted = second.run("prodcat", "predict", "leather ankle boots").stdout
    assert predicted.split("\t")[0] in labels
