"""Drift on real data: a model trained on a catalog's early years, shown a later year.

    python benchmarks/drift.py --data ../shared/datasets/myntra-fashion/products.csv \\
        --text-column productDisplayName --label-column articleType --min-class-count 20 \\
        --train-until 2012 --later-year 2016 --out benchmarks/results/drift.json

Holds out a random sample of the rows up to ``--train-until`` (the same period as training),
runs the whole pipeline in a throwaway workspace (see ``catalog.py``) on the other rows of that
period, then runs the real ``prodcat drift`` on the held-out sample, which should not alert, and
on the rows of ``--later-year``, which should. Titles are kept as a shop receives them, repeats
included (``prepare.drop_duplicates: false``), so the validation split the reference comes from
looks like an incoming batch. Writes both reports' checks and exit statuses as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog import (
    catalog_params,
    catalog_parser,
    describe_machine,
    make_workspace,
    parse_override,
    run_pipeline,
    write_results,
)


def split_by_year(
    catalog: pd.DataFrame, until: int, later: int, held_out: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(training rows, held-out rows of the same period, rows of the later year)."""
    period = catalog[catalog["year"] <= until]
    same = period.sample(n=min(held_out, len(period) // 5), random_state=seed)
    return period.drop(same.index), same, catalog[catalog["year"] == later]


def run_drift(root: Path, env: dict[str, str], batch: Path, text_column: str) -> dict:
    done = subprocess.run(
        ["prodcat", "drift", "--input", str(batch), "--text-column", text_column],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"prodcat drift failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    report = json.loads((root / f"{batch.stem}.drift.json").read_text(encoding="utf-8"))
    return {
        "exit_status": done.returncode,
        "alert": report["alert"],
        "crossed": report["crossed"],
        "rows": report["rows"],
        "checks": {check["name"]: check for check in report["checks"]},
        "printed": done.stdout,
    }


def main() -> None:
    parser = catalog_parser(__doc__.splitlines()[0], "catalog CSV with a year column")
    parser.add_argument("--train-until", type=int, default=2012, help="last year trained on")
    parser.add_argument("--later-year", type=int, default=2016, help="the year to score")
    parser.add_argument("--held-out", type=int, default=3000, help="same-period rows held out")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out sample")
    parser.add_argument(
        "--set", type=parse_override, action="append", default=[], help="SECTION.KEY=VALUE"
    )
    arguments = parser.parse_args()

    catalog = pd.read_csv(arguments.data)
    catalog = catalog.dropna(subset=["year", arguments.text_column, arguments.label_column])
    training, same, later = split_by_year(
        catalog, arguments.train_until, arguments.later_year, arguments.held_out, arguments.seed
    )
    params = catalog_params(arguments)
    params["prepare"]["drop_duplicates"] = False
    for section, name, value in arguments.set:
        params[section][name] = value
    with tempfile.TemporaryDirectory(prefix="prodcat-drift-") as folder:
        root = Path(folder)
        training_path = root.parent / f"{root.name}-training.csv"
        training.to_csv(training_path, index=False)
        params["prepare"]["path"] = str(training_path)
        env = make_workspace(root, params)
        try:
            seconds = run_pipeline(root, env)
        finally:
            training_path.unlink()
        batches = {"same_period": same, "later_year": later}
        reports = {}
        for name, rows in batches.items():
            path = root / f"{name}.csv"
            rows[[arguments.text_column]].to_csv(path, index=False)
            reports[name] = run_drift(root, env, path, arguments.text_column)
        evaluation = json.loads((root / "reports/evaluation.json").read_text(encoding="utf-8"))
    expected = reports["later_year"]["alert"] and not reports["same_period"]["alert"]
    results = {
        "data": str(arguments.data),
        "train_until": arguments.train_until,
        "later_year": arguments.later_year,
        "rows": {"training": len(training), **{name: len(rows) for name, rows in batches.items()}},
        "model": {key: evaluation[key] for key in ("accuracy", "macro_f1", "coverage", "ece")},
        "reports": reports,
        "as_expected": expected,
        "pipeline_seconds": seconds,
        "params": params,
        "machine": describe_machine(),
    }
    write_results(results, arguments.out)
    for name, report in reports.items():
        print(f"--- {name} ({report['rows']} rows): exit {report['exit_status']}")
        print(report["printed"].rstrip())
    print(f"as expected (later year alerts, same period does not): {expected}")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
