"""Sharing data and outputs through a DVC remote: push from one clone, pull into a fresh one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Workspace, copy_workspace

pytestmark = pytest.mark.slow

CATALOG = "tests/fixtures/catalog.csv"  # the catalog the session's pipeline read


def test_a_fresh_clone_pulls_data_and_outputs_and_has_nothing_to_rerun(
    pipeline_template: Workspace, tmp_path: Path
) -> None:
    first = copy_workspace(pipeline_template, tmp_path / "first")
    # A team's catalog is too big for git: DVC tracks it and the remote stores it. The pipeline
    # already ran on it, so tracking it changes no stage.
    first.run("git", "rm", "--cached", "--quiet", CATALOG)
    first.run("dvc", "add", CATALOG)
    remote = tmp_path / "remote"  # a local-path remote; s3://, gs://, ssh://... work the same
    first.run("dvc", "remote", "add", "--default", "shared", str(remote))
    assert "Running stage" not in first.run("dvc", "repro").stdout
    first.run("git", "add", "--all")
    first.run("git", "commit", "--quiet", "-m", "team catalog, pipeline run, shared remote")
    pushed = first.run("dvc", "push")
    assert "pushed" in pushed.stdout.lower()

    second = Workspace(root=tmp_path / "second", env=first.env)
    first.run("git", "clone", "--quiet", str(first.root), str(second.root))
    assert not (second.root / CATALOG).exists()
    assert not (second.root / "models/model.keras").exists()
    second.run("dvc", "pull")
    for path in (
        CATALOG,
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
