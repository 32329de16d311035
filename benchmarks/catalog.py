"""The whole pipeline on any catalog, in a throwaway workspace: scores, time, throughput, memory.

    python benchmarks/catalog.py --data ../shared/datasets/myntra-fashion/products.csv \\
        --protocol new-brands --seeds 42 1 2 --out benchmarks/results/myntra-new-brands.json

Copies the repository's tracked files to a temporary git + DVC workspace with its own SQLite
MLflow store, points ``prepare`` at the catalog, runs every stage with ``dvc repro`` (timed one by
one), and writes the model's and the baseline's test scores (overall and on the test titles
holding a word outside the vocabulary), the seconds per stage, the training throughput and the
peak memory of the largest stage process as JSON.

``--protocol`` names a setting of the Myntra fashion titles (``productDisplayName``, classes of
at least 20 rows): ``random`` (stratified 80/10/10 split, ``articleType``), ``new-brands`` (whole
brands, the title's first word, held out of training: ``prepare.split: group``, ``articleType``)
or ``subcategory`` (stratified, ``subCategory``). With several ``--seeds`` the split, ``prepare``
and ``baseline`` are shared and the network is trained once per ``train.seed``: each figure is
then ``{"mean", "min", "max", "per_seed"}``, and ``seconds.total`` is what the whole pipeline
takes for each seed (the shared stages counted in each).
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
SHARED = ("prepare", "baseline")  # run once for every seed
# The Myntra protocols: params on top of the base params.yaml.
PROTOCOLS: dict[str, dict[str, dict[str, Any]]] = {
    "random": {"prepare": {"label_column": "articleType", "split": "stratified"}},
    "new-brands": {"prepare": {"label_column": "articleType", "split": "group"}},
    "subcategory": {"prepare": {"label_column": "subCategory", "split": "stratified"}},
}
PROTOCOL_BASE = {"text_column": "productDisplayName", "min_class_count": 20}


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


def run_pipeline(
    root: Path, env: dict[str, str], stages: tuple[str, ...] = STAGES
) -> dict[str, float]:
    """Seconds per stage; raises with the stage's output if one fails."""
    seconds = {}
    for stage in stages:
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
    """Where a figure was measured, saved beside it, with how busy the machine was."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def summarize(values: list[float]) -> float | dict[str, Any]:
    """One seed's figure as is; several seeds' as mean, min, max and each seed's."""
    if len(values) == 1:
        return values[0]
    return {
        "mean": round(sum(values) / len(values), 6),
        "min": min(values),
        "max": max(values),
        "per_seed": values,
    }


def seed_figures(root: Path) -> dict[str, Any]:
    """What one training seed's pipeline scored and how fast it trained."""
    metrics = json.loads((root / "reports/evaluation.json").read_text(encoding="utf-8"))
    training = json.loads((root / "models/run.json").read_text(encoding="utf-8"))
    history = pd.read_csv(root / "reports/history.csv")
    unknown = metrics.get("slices", {}).get("unknown_words", {})
    baseline_unknown = metrics["baseline"].get("slices", {}).get("unknown_words", {})
    return {
        "model": {key: metrics[key] for key in ("accuracy", "macro_f1", "weighted_f1", "loss")},
        "baseline": {key: metrics["baseline"][key] for key in ("accuracy", "macro_f1")},
        "lift": {key: metrics["lift"][key] for key in ("accuracy", "macro_f1")},
        "unknown_word_titles": {
            "rows": unknown.get("rows", 0),
            "model": unknown.get("accuracy"),
            "baseline": baseline_unknown.get("accuracy"),
        },
        "train": {
            "samples_per_second": training.get("train_samples_per_second"),
            "fit_samples_per_second": training.get("fit_samples_per_second"),
            "fit_seconds": training["fit_seconds"],
            "epochs": len(history),
            "scales": {k: v for k, v in training.items() if k.endswith("_scale")},
        },
        "model_mb": round((root / "models/model.keras").stat().st_size / 1e6, 2),
    }


def combine(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """The seeds' figures, key by key: numbers summarised (see :func:`summarize`)."""
    first = per_seed[0]
    combined: dict[str, Any] = {}
    for key, value in first.items():
        values = [figures[key] for figures in per_seed]
        if isinstance(value, dict):
            combined[key] = combine(values)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            combined[key] = summarize([round(v, 6) for v in values])
        else:
            combined[key] = value if len(set(map(str, values))) == 1 else values
    return combined


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
    """The base params with ``prepare`` reading the catalog's columns (or the protocol's)."""
    params = yaml.safe_load(arguments.params.read_text(encoding="utf-8"))
    params["prepare"].update(
        path=str(arguments.data.resolve()),
        text_column=arguments.text_column,
        label_column=arguments.label_column,
    )
    protocol = getattr(arguments, "protocol", None)
    if protocol:
        params["prepare"].update(PROTOCOL_BASE)
        for section, values in PROTOCOLS[protocol].items():
            params[section].update(values)
    if arguments.min_class_count is not None:
        params["prepare"]["min_class_count"] = arguments.min_class_count
    return params


def write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def main() -> None:
    parser = catalog_parser(__doc__.splitlines()[0], "catalog CSV")
    parser.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        help="a Myntra protocol: sets the columns, min_class_count and split (see above)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        help="train.seed of each network trained on the one split (default: the params')",
    )
    parser.add_argument(
        "--set", type=parse_override, action="append", default=[], help="SECTION.KEY=VALUE"
    )
    arguments = parser.parse_args()

    params = catalog_params(arguments)
    for section, name, value in arguments.set:
        params[section][name] = value
    seeds = arguments.seeds or [params["train"]["seed"]]
    load_before = describe_machine()["load_average"]

    per_seed, seconds_per_seed = [], []
    with tempfile.TemporaryDirectory(prefix="prodcat-bench-") as folder:
        root = Path(folder)
        env = make_workspace(root, {**params, "train": {**params["train"], "seed": seeds[0]}})
        shared = run_pipeline(root, env, SHARED)
        report = json.loads((root / "data/prepared/data_report.json").read_text(encoding="utf-8"))
        for seed in seeds:
            write_params(root, {**params, "train": {**params["train"], "seed": seed}})
            own = run_pipeline(root, env, tuple(s for s in STAGES if s not in SHARED))
            total = round(shared["total"] + own["total"], 2)
            seconds_per_seed.append({**shared, **own, "total": total})
            per_seed.append(seed_figures(root))
            print(f"seed {seed}: {per_seed[-1]['model']} in {seconds_per_seed[-1]['total']:.0f} s")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures = combine(per_seed)
    results = {
        "data": str(arguments.data),
        "protocol": arguments.protocol,
        "seeds": seeds,
        "rows": report["rows"],
        "classes": report["classes"],
        "dropped": report["dropped"],
        **figures,
        "seconds": combine(seconds_per_seed),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "params": params,
        "machine": {**describe_machine(), "load_average_before": load_before},
    }
    write_results(results, arguments.out)
    print(
        f"model accuracy {figures['model']['accuracy']} macro F1 {figures['model']['macro_f1']} | "
        f"baseline {figures['baseline']['accuracy']} / {figures['baseline']['macro_f1']} | "
        f"total seconds {results['seconds']['total']} | "
        f"{figures['train']['samples_per_second']} samples/s training | "
        f"peak {results['peak_rss_mb']} MB"
    )
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
