"""The whole pipeline on any catalog, in a throwaway workspace: scores, time, throughput, memory.

    python benchmarks/catalog.py --data ../shared/datasets/myntra-fashion/products.csv \\
        --text-column productDisplayName --label-column articleType --min-class-count 20 \\
        --set train.batch_size=128 --out benchmarks/results/myntra.json

Copies the repository's tracked files to a temporary git + DVC workspace with its own SQLite
MLflow store, points ``prepare`` at the catalog, runs every stage with ``dvc repro`` (timed one by
one), and writes the model's and the baseline's test scores, the seconds per stage, the training
throughput and the peak memory of the largest stage process as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ("prepare", "baseline", "train", "evaluate", "export")


def parse_override(text: str) -> tuple[str, str, Any]:
    """``train.batch_size=128`` → ("train", "batch_size", 128), the value parsed as YAML."""
    key, _, value = text.partition("=")
    section, _, name = key.partition(".")
    if not (section and name and value):
        raise argparse.ArgumentTypeError(f"expected SECTION.KEY=VALUE, got {text!r}")
    return section, name, yaml.safe_load(value)


def make_workspace(root: Path, params: dict) -> dict[str, str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        TF_CPP_MIN_LOG_LEVEL="3",
        DVC_NO_ANALYTICS="1",
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        GIT_AUTHOR_NAME="benchmark",
        GIT_AUTHOR_EMAIL="benchmark@example.invalid",
        GIT_COMMITTER_NAME="benchmark",
        GIT_COMMITTER_EMAIL="benchmark@example.invalid",
    )
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "b"]):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return env


def run_pipeline(root: Path, env: dict[str, str]) -> dict[str, float]:
    """Seconds per stage; raises with the stage's output if one fails."""
    seconds = {}
    for stage in STAGES:
        started = time.perf_counter()
        result = subprocess.run(
            ["dvc", "repro", "--single-item", stage],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds[stage] = round(time.perf_counter() - started, 2)
        if result.returncode != 0:
            raise SystemExit(
                f"stage {stage} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
    seconds["total"] = round(sum(seconds.values()), 2)
    return seconds


def describe_machine() -> dict[str, Any]:
    """Where a figure was measured, saved beside it."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def write_results(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def catalog_parser(description: str, data_help: str) -> argparse.ArgumentParser:
    """The options every benchmark on a catalog takes: which CSV, which columns, which params."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, required=True, help=data_help)
    parser.add_argument("--text-column", default="description")
    parser.add_argument("--label-column", default="category")
    parser.add_argument("--min-class-count", type=int, help="prepare.min_class_count")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml", help="base params")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    return parser


def catalog_params(arguments: argparse.Namespace) -> dict:
    """The base params with ``prepare`` reading the catalog's columns."""
    params = yaml.safe_load(arguments.params.read_text(encoding="utf-8"))
    params["prepare"].update(
        path=str(arguments.data.resolve()),
        text_column=arguments.text_column,
        label_column=arguments.label_column,
    )
    if arguments.min_class_count is not None:
        params["prepare"]["min_class_count"] = arguments.min_class_count
    return params


def main() -> None:
    parser = catalog_parser(__doc__.splitlines()[0], "catalog CSV")
    parser.add_argument(
        "--set", type=parse_override, action="append", default=[], help="SECTION.KEY=VALUE"
    )
    arguments = parser.parse_args()

    params = catalog_params(arguments)
    for section, name, value in arguments.set:
        params[section][name] = value

    with tempfile.TemporaryDirectory(prefix="prodcat-bench-") as folder:
        root = Path(folder)
        env = make_workspace(root, params)
        seconds = run_pipeline(root, env)
        metrics = json.loads((root / "reports/evaluation.json").read_text(encoding="utf-8"))
        training = json.loads((root / "models/run.json").read_text(encoding="utf-8"))
        report = json.loads((root / "data/prepared/data_report.json").read_text(encoding="utf-8"))
        history = pd.read_csv(root / "reports/history.csv")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    results = {
        "data": str(arguments.data),
        "rows": report["rows"],
        "classes": report["classes"],
        "model": {
            key: metrics[key] for key in ("accuracy", "macro_f1", "weighted_f1", "loss", "slices")
        },
        "baseline": metrics["baseline"],
        "lift": metrics["lift"],
        "seconds": seconds,
        "train": {
            "samples_per_second": training["train_samples_per_second"],
            "fit_samples_per_second": training["fit_samples_per_second"],
            "fit_seconds": training["fit_seconds"],
            "epochs": len(history),
        },
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "params": params,
        "machine": describe_machine(),
    }
    write_results(results, arguments.out)
    print(
        f"model accuracy {results['model']['accuracy']:.4f} macro F1 "
        f"{results['model']['macro_f1']:.4f} | baseline {metrics['baseline']['accuracy']:.4f} / "
        f"{metrics['baseline']['macro_f1']:.4f} | {seconds['total']:.0f} s total | "
        f"{training['train_samples_per_second']:.0f} samples/s training "
        f"({training['fit_samples_per_second']:.0f} with validation) | "
        f"peak {results['peak_rss_mb']} MB"
    )
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
