"""The package's layers, read from the code's own imports: arrows point down, and ``dvc.yaml``
lists every module a stage runs, so a change to any of them reruns the stage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
# Top to bottom: a layer may import itself and the layers below it, never one above.
LAYERS = ("cli", "stages", "dev", "io", "serving", "core")
STAGES = ("prepare", "baseline", "train", "evaluate", "export")


def module_file(module: str) -> Path | None:
    path = SRC.joinpath(*module.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def imported_modules(path: Path) -> set[str]:
    """Every ``prodcat`` module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("prodcat")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prodcat"):
            found.add(node.module)
            found |= {
                f"{node.module}.{alias.name}"
                for alias in node.names
                if module_file(f"{node.module}.{alias.name}")
            }
    return found


def import_closure(module: str) -> set[Path]:
    """The files Python runs when it imports ``module``: its imports, theirs, and their packages."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        pending += [".".join(parts[:end]) for end in range(1, len(parts))]
        path = module_file(name)
        if path:
            pending += imported_modules(path)
    return {path for name in seen if (path := module_file(name))}


def layer_of(path: Path) -> str | None:
    parts = path.relative_to(SRC / "prodcat").parts
    return parts[0] if len(parts) > 1 and parts[0] in LAYERS else None


def package_files() -> list[Path]:
    return sorted((SRC / "prodcat").rglob("*.py"))


@pytest.mark.parametrize("stage", STAGES)
def test_dvc_yaml_lists_every_module_the_stage_imports(stage: str) -> None:
    deps = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"][stage]["deps"]
    listed = [REPO / dep for dep in deps]
    missing = [
        str(path.relative_to(REPO))
        for path in sorted(import_closure(f"prodcat.stages.{stage}"))
        if not any(path == dep or dep in path.parents for dep in listed)
    ]
    assert not missing, f"dvc.yaml stage {stage} misses deps: {missing}"


def test_imports_point_down_the_layers() -> None:
    upward = []
    for path in package_files():
        here = layer_of(path)
        if here is None:
            continue
        for module in imported_modules(path):
            target = module_file(module)
            there = layer_of(target) if target else None
            if there and LAYERS.index(there) < LAYERS.index(here):
                upward.append(f"{path.relative_to(SRC)} imports {module}")
    assert not upward


def test_the_core_knows_neither_mlflow_nor_the_pipeline_paths() -> None:
    offending = []
    for path in sorted((SRC / "prodcat" / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offending += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] == "mlflow" or name.startswith("prodcat.io")
            ]
    assert not offending


def test_the_exported_model_runs_only_the_core_and_serving() -> None:
    shipped = import_closure("prodcat.serving.model_code")
    outside = [
        str(path.relative_to(SRC))
        for path in shipped
        if layer_of(path) not in ("core", "serving") and path != SRC / "prodcat" / "__init__.py"
    ]
    assert not outside


def test_stages_are_thin() -> None:
    long = {
        stage: lines
        for stage in STAGES
        if (lines := len((SRC / f"prodcat/stages/{stage}.py").read_text().splitlines())) > 80
    }
    assert not long, f"stage modules over 80 lines: {long}"
