"""Promotion through the quality gate: the commands on a real SQLite registry with really
trained versions (the gate's every rule is unit-tested in tests/unit/test_registry.py).

The versions: v1 the fixture's proper model, v2 a weak one (the deep path alone, one epoch at a
tiny learning rate), which holds ``challenger``. The tests share them and run in file order.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator

import pytest
import yaml
from mlflow import MlflowClient

from tests.e2e.conftest import Workspace, copy_workspace

pytestmark = pytest.mark.slow

WEAK = {"epochs": 1, "learning_rate": 0.0001, "wide": False}


def train_version(workspace: Workspace, **train: object) -> str:
    """Retrain with these train params and return the registered version."""
    workspace.set_params("train", **train)
    workspace.run("dvc", "repro")
    return str(yaml.safe_load((workspace.root / "models/registered.json").read_text())["version"])


@pytest.fixture(scope="module")
def registry(
    pipeline_template: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Workspace, list[str]]]:
    """A copy of the session's pipeline run (v1) and a weaker version trained after it (v2).

    Only train, evaluate and export run for v2: the data preparation and the baseline do not
    depend on the train params.
    """
    workspace = copy_workspace(pipeline_template, tmp_path_factory.mktemp("promote"))
    versions = [
        str(yaml.safe_load((workspace.root / "models/registered.json").read_text())["version"]),
        train_version(workspace, **WEAK),
    ]
    assert versions == ["1", "2"]
    yield workspace, versions


def client_for(workspace: Workspace) -> MlflowClient:
    return MlflowClient(tracking_uri=workspace.tracking_uri, registry_uri=workspace.tracking_uri)


def champion(workspace: Workspace) -> str:
    return str(client_for(workspace).get_model_version_by_alias("prodcat", "champion").version)


def tags(workspace: Workspace, version: str) -> dict[str, str]:
    return client_for(workspace).get_model_version("prodcat", version).tags


def test_first_candidate_that_clears_the_floors_becomes_champion(registry) -> None:
    workspace, _ = registry
    result = workspace.run("prodcat", "promote", "--version", "2")
    assert "verdict: PASS" in result.stdout
    assert "no champion yet" in result.stdout
    assert champion(workspace) == "2"
    assert tags(workspace, "2")["champion.previous"] == "none"


def test_a_better_challenger_is_promoted_with_its_reasons_recorded(registry) -> None:
    workspace, _ = registry
    result = workspace.run("prodcat", "promote", "--version", "1")
    assert "verdict: PASS" in result.stdout
    assert champion(workspace) == "1"
    recorded = tags(workspace, "1")
    assert recorded["champion.previous"] == "2"
    assert recorded["champion.forced"] == "false"
    assert float(recorded["champion.candidate_value"]) > float(recorded["champion.previous_value"])
    assert recorded["champion.promoted_at"]


def test_a_worse_challenger_is_refused_and_nothing_changes(registry) -> None:
    workspace, _ = registry
    holder = client_for(workspace).get_model_version_by_alias("prodcat", "challenger")
    assert str(holder.version) == "2"  # the default candidate
    before = tags(workspace, "2")
    result = workspace.run("prodcat", "promote", check=False)
    assert result.returncode == 1
    assert "verdict: FAIL" in result.stdout
    assert champion(workspace) == "1"
    assert tags(workspace, "2") == before


def test_dry_run_reports_and_changes_nothing(registry) -> None:
    workspace, _ = registry
    result = workspace.run("prodcat", "promote", "--version", "2", "--dry-run", check=False)
    assert result.returncode == 1
    assert "dry run: nothing changed" in result.stdout
    assert champion(workspace) == "1"


def test_force_promotes_past_a_failed_gate_and_says_so(registry) -> None:
    workspace, _ = registry
    result = workspace.run("prodcat", "promote", "--version", "2", "--force")
    assert "forced past a failed gate" in result.stdout
    assert champion(workspace) == "2"
    assert tags(workspace, "2")["champion.forced"] == "true"


def test_rollback_returns_to_the_previous_champion(registry) -> None:
    workspace, _ = registry
    result = workspace.run("prodcat", "rollback")
    assert "rolled back from prodcat v2 to v1" in result.stdout
    assert champion(workspace) == "1"
    assert tags(workspace, "1")["champion.rolled_back_from"] == "2"


def test_promoting_the_champion_again_changes_nothing(registry) -> None:
    workspace, _ = registry
    before = tags(workspace, "1")
    result = workspace.run("prodcat", "promote", "--version", "1")
    assert "already holds 'champion': no change" in result.stdout
    assert champion(workspace) == "1"
    assert tags(workspace, "1") == before


def test_different_test_data_means_both_are_re_evaluated(registry) -> None:
    workspace, _ = registry
    client = client_for(workspace)
    recorded = tags(workspace, "2")
    client.set_model_version_tag("prodcat", "2", "test_data.md5", "an-older-split")
    try:
        result = workspace.run("prodcat", "promote", "--version", "2", "--dry-run", check=False)
    finally:
        client.set_model_version_tag("prodcat", "2", "test_data.md5", recorded["test_data.md5"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "re-evaluating v2 and v1" in result.stdout
    assert "both re-evaluated on data/prepared/test.csv" in result.stdout
    # Same split in fact, so the re-evaluated scores are the recorded ones.
    row = next(line for line in result.stdout.splitlines() if line.startswith("macro_f1"))
    candidate_value, champion_value = (float(cell) for cell in row.split()[2:4])
    assert candidate_value == pytest.approx(float(recorded["test_macro_f1"]), abs=1e-3)
    assert champion_value == pytest.approx(float(tags(workspace, "1")["test_macro_f1"]), abs=1e-3)
    assert champion(workspace) == "1"


def test_models_lists_versions_aliases_and_scores(registry) -> None:
    workspace, _ = registry
    lines = workspace.run("prodcat", "models").stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["version", "aliases"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"1", "2"}
    assert "champion" in rows["1"] and rows["1"].rstrip().endswith("*")
    assert "challenger" in rows["2"]


def test_racing_promotions_end_consistent(registry) -> None:
    """Two promotions of v2 at once (a CI job and a person, say) are serialised: the second
    sees the first one's result, not the stale champion."""
    workspace, _ = registry
    before = champion(workspace)
    racers = [
        subprocess.Popen(
            ["prodcat", "promote", "--version", "2", "--force"],
            cwd=workspace.root,
            env=workspace.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for racer in racers:
        stdout, stderr = racer.communicate(timeout=300)
        assert racer.returncode == 0, stderr
        outputs.append(stdout)
    assert champion(workspace) == "2"
    moved = ["forced past a failed gate" in output for output in outputs]
    unchanged = ["already holds 'champion': no change" in output for output in outputs]
    assert sorted(moved) == [False, True] and moved == [not done for done in unchanged]
    assert tags(workspace, "2")["champion.previous"] == before
    workspace.run("prodcat", "rollback")
    assert champion(workspace) == before


def test_a_candidate_below_its_own_baseline_is_refused_and_the_table_shows_it(
    registry,
) -> None:
    workspace, _ = registry
    candidate = "2"
    workspace.set_params("promote", max_loss_to_baseline=0.01)
    try:
        result = workspace.run(
            "prodcat", "promote", "--version", candidate, "--dry-run", check=False
        )
    finally:
        workspace.set_params("promote", max_loss_to_baseline=1.0)
    assert result.returncode == 1, result.stdout + result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[-2:] == ["baseline", "floor"]
    baseline = float(tags(workspace, candidate)["baseline.macro_f1"])
    row = next(line for line in result.stdout.splitlines() if line.startswith("macro_f1"))
    assert float(row.split()[-2]) == pytest.approx(baseline, abs=1e-4)
    assert "below the TF-IDF baseline of its own run" in result.stdout
    assert "promote.max_loss_to_baseline" in result.stdout


def test_coverage_is_shown_beside_accuracy_when_recorded(registry) -> None:
    workspace, _ = registry
    candidate = "2"
    client = client_for(workspace)
    recorded = tags(workspace, candidate).get("test_coverage")
    client.set_model_version_tag("prodcat", candidate, "test_coverage", "0.625")
    try:
        result = workspace.run(
            "prodcat", "promote", "--version", candidate, "--dry-run", check=False
        )
    finally:
        if recorded is None:
            client.delete_model_version_tag("prodcat", candidate, "test_coverage")
        else:
            client.set_model_version_tag("prodcat", candidate, "test_coverage", recorded)
    row = next(line for line in result.stdout.splitlines() if line.startswith("coverage"))
    held = tags(workspace, champion(workspace)).get("test_coverage")
    champions = f"{float(held):.4f}" if held is not None else "-"
    assert row.split()[:3] == ["coverage", "0.6250", champions]


def test_a_locked_store_is_one_line_after_the_configured_wait(registry) -> None:
    workspace, _ = registry
    workspace.set_params("tracking", sqlite_timeout_seconds=2)
    holder = sqlite3.connect(workspace.root / "mlflow.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for command in (("lineage", "1"), ("rollback",)):
            started = time.monotonic()
            result = workspace.run("prodcat", *command, check=False)
            assert time.monotonic() - started < 45
            assert result.returncode == 2
            (line,) = result.stderr.strip().splitlines()
            assert line.startswith(f"prodcat: error: MLflow store sqlite:///{workspace.root}")
            assert "is locked by another process for over 2 s" in line
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        workspace.set_params("tracking", sqlite_timeout_seconds=60)
