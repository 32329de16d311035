"""How prepare, the baseline and one training epoch grow with the catalog: time and peak memory.

    python benchmarks/scale.py --data ../shared/datasets/myntra-fashion/products.csv \\
        --text-column productDisplayName --label-column articleType --min-class-count 20 \\
        --rows 10000 100000 1000000 --out benchmarks/results/scale.json

For each size, grows the catalog to that many rows by resampling it with replacement and
perturbing every copy (a dropped word, two words swapped, a typo), so the vocabulary keeps
growing as a real catalog's would; then runs ``prepare``, ``baseline`` (the network's wide path)
and ``train`` (one epoch) with
``dvc repro`` in a throwaway workspace (see ``catalog.py``), and records each stage's wall time
and the peak resident memory of its largest process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog import (
    catalog_params,
    catalog_parser,
    describe_machine,
    make_workspace,
    write_results,
)

STAGES = ("prepare", "baseline", "train")
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def perturb(text: str, rng: np.random.Generator) -> str:
    """A plausible variant of a product title: one to three edits, each a dropped word, two
    neighbours swapped or a typo, so that copies of one title rarely coincide."""
    words = text.split()
    for _ in range(rng.integers(1, 4)):
        change = rng.integers(3)
        if change == 0 and len(words) > 2:
            del words[rng.integers(len(words))]
        elif change == 1 and len(words) > 1:
            at = rng.integers(len(words) - 1)
            words[at], words[at + 1] = words[at + 1], words[at]
        elif words:
            at = rng.integers(len(words))
            word = words[at]
            position = rng.integers(len(word) + 1)
            words[at] = word[:position] + str(rng.choice(LETTERS)) + word[position + 1 :]
    return " ".join(words)


def grow_catalog(catalog: pd.DataFrame, text_column: str, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows drawn with replacement (class shares kept in expectation), each perturbed."""
    rng = np.random.default_rng(seed)
    drawn = catalog.iloc[rng.integers(len(catalog), size=rows)].reset_index(drop=True)
    texts = drawn[text_column].to_numpy(dtype=object)
    return drawn.assign(**{text_column: [perturb(str(text), rng) for text in texts]})


def run_stage(stage: str, root: Path, env: dict[str, str]) -> dict[str, float]:
    """Wall seconds and the peak RSS (MB) of the largest process ``dvc repro`` ran for it."""
    started = time.perf_counter()
    process = subprocess.Popen(
        ["dvc", "repro", "--single-item", stage],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)  # usage covers the waited-for descendants too
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{output[-4000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def measure(catalog_path: Path, params: dict) -> dict:
    """Prepare, the baseline and one epoch of training on one catalog, in its own workspace."""
    with tempfile.TemporaryDirectory(prefix="prodcat-scale-") as folder:
        root = Path(folder)
        env = make_workspace(root, params)
        stages = {stage: run_stage(stage, root, env) for stage in STAGES}
        report = json.loads((root / "data/prepared/data_report.json").read_text(encoding="utf-8"))
        training = json.loads((root / "models/run.json").read_text(encoding="utf-8"))
        prepared_mb = sum(path.stat().st_size for path in (root / "data/prepared").iterdir())
    return {
        "rows_kept": report["rows"],
        "classes": report["classes"],
        **stages,
        "train_samples_per_second": training["train_samples_per_second"],
        "prepared_mb": round(prepared_mb / 2**20, 1),
    }


def main() -> None:
    parser = catalog_parser(__doc__.splitlines()[0], "catalog CSV to grow from")
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    arguments = parser.parse_args()

    source = pd.read_csv(arguments.data, usecols=[arguments.text_column, arguments.label_column])
    source = source.dropna()
    params = catalog_params(arguments)  # prepare.path is set per grown catalog below
    params["train"].update(epochs=1)

    sizes = []
    with tempfile.TemporaryDirectory(prefix="prodcat-catalogs-") as folder:
        for rows in arguments.rows:
            catalog_path = Path(folder) / f"catalog-{rows}.csv"
            grow_catalog(source, arguments.text_column, rows, arguments.seed).to_csv(
                catalog_path, index=False
            )
            params["prepare"]["path"] = str(catalog_path)
            measured = {"rows": rows, **measure(catalog_path, params)}
            catalog_path.unlink()
            sizes.append(measured)
            print(
                f"{rows:>9,} rows | prepare {measured['prepare']['seconds']:7.1f} s "
                f"{measured['prepare']['peak_rss_mb']:7.0f} MB | train (1 epoch) "
                f"{measured['train']['seconds']:7.1f} s {measured['train']['peak_rss_mb']:7.0f} MB"
                f" | {measured['train_samples_per_second']:.0f} samples/s",
                flush=True,
            )
    results = {
        "data": str(arguments.data),
        "sizes": sizes,
        "params": {key: params[key] for key in ("prepare", "train")},
        "machine": describe_machine(),
    }
    write_results(results, arguments.out)
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
