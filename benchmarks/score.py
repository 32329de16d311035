"""Batch scoring at catalog scale: the real ``prodcat predict --input … --output …`` on a big file.

    python benchmarks/score.py --data ../shared/datasets/myntra-fashion/products.csv \\
        --text-column productDisplayName --rows 1000000 --model /path/to/models/export \\
        --out benchmarks/results/score.json

Builds the file by growing the catalog as ``scale.py`` does (titles drawn with replacement, each
perturbed), or takes one with ``--input``; trains nothing (``--model``: an exported model folder
or an MLflow URI, default this repository's ``models/export``). Runs the command as a subprocess
and records its wall time, the titles per second over the whole run and once the model is loaded
(the command's own "scored … in … s" line), and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog import REPO, describe_machine, write_results
from scale import grow_catalog

SCORED = re.compile(r"scored (\d+) rows.* in ([\d.]+) s \((\d+) titles/s\)")


def build_input(data: Path, text_column: str, rows: int, seed: int, target: Path) -> None:
    """``rows`` perturbed titles with an ``id`` column, as a CSV or Parquet file."""
    source = pd.read_csv(data, usecols=[text_column]).dropna()
    grown = grow_catalog(source, text_column, rows, seed)
    grown.insert(0, "id", [f"{row:08d}" for row in range(rows)])
    if target.suffix == ".parquet":
        grown.to_parquet(target, index=False)
    else:
        grown.to_csv(target, index=False)


def run_predict(model: str, source: Path, target: Path, text_column: str, extra: list[str]) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [
        str(Path(sys.executable).with_name("prodcat")),
        "predict",
        "--model",
        model,
        "--input",
        str(source),
        "--output",
        str(target),
        "--text-column",
        text_column,
        *extra,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=target.parent)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"prodcat predict failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    found = SCORED.search(done.stderr)
    if not found:
        raise SystemExit(f"no 'scored … titles/s' line in the output:\n{done.stderr[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = int(found[1])
    return {
        "command": " ".join(command),
        "rows": rows,
        "wall_seconds": round(seconds, 2),
        "titles_per_second": round(rows / seconds),
        "scoring_seconds": float(found[2]),
        "steady_titles_per_second": int(found[3]),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        # What the run cost whatever else shared the cores: user + system CPU seconds.
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "output_rows": output_rows(target),
    }


def output_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="catalog CSV to grow the input from")
    source.add_argument("--input", type=Path, help="an input file to score as it is")
    parser.add_argument("--text-column", default="description")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to grow (--data)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the growth")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--model", default=str(REPO / "models/export"))
    parser.add_argument(
        "--predict-option", action="append", default=[], help="extra option for predict"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/score.json")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="prodcat-score-") as folder:
        work = Path(folder)
        if arguments.input:
            catalog = arguments.input.resolve()
        else:
            catalog = work / f"catalog.{arguments.format}"
            started = time.perf_counter()
            build_input(
                arguments.data, arguments.text_column, arguments.rows, arguments.seed, catalog
            )
            seconds = time.perf_counter() - started
            print(f"built {catalog.name}: {arguments.rows:,} rows in {seconds:.0f} s")
        target = work / f"scored.{arguments.format}"
        measured = run_predict(
            arguments.model, catalog, target, arguments.text_column, arguments.predict_option
        )
    results = {
        "data": str(arguments.input or arguments.data),
        "model": arguments.model,
        **measured,
        "machine": describe_machine(),
    }
    write_results(results, arguments.out)
    print(json.dumps({key: value for key, value in results.items() if key != "machine"}, indent=2))
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
