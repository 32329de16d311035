"""Checks of the project's own set-up files, which CI cannot otherwise run here."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_github_workflow_is_valid() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", ".github/workflows/ci.yml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_stage_lists_its_own_params_section_and_module() -> None:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name, stage in stages.items():
        assert stage["cmd"] == f"prodcat {name}"
        assert stage["params"] == [name]
        assert f"src/prodcat/stages/{name}.py" in stage["deps"]


def test_no_mlflow_store_or_shared_data_is_tracked() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    forbidden = ("mlflow.db", "mlruns/", "mlartifacts/", ".venv/")
    assert not [name for name in tracked if name.startswith(forbidden)]
    assert not [name for name in tracked if name.endswith("products.csv")]  # the shared data
