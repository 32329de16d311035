"""Latency and throughput of the served model, on loopback, and of the same model in-process.

    python benchmarks/serve.py --model models/export --out benchmarks/results/serve.json

Starts the real server with `prodcat serve` (that is, `mlflow models serve --env-manager local`)
on a free 127.0.0.1 port, measures single-text request latency (p50, p99) and batch throughput,
then the same for the model loaded in this process with `mlflow.pyfunc.load_model`. Prints a
table and writes the figures, with the machine they were measured on, as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from prodcat.dev.processes import free_port, running

# The serving target on 2 CPU cores: single-text p50 and batch throughput of the served model.
TARGET = {"p50_ms": 15.0, "texts_per_second": 5000.0}

FALLBACK_TEXTS = (
    "Waterproof leather hiking boots with ankle support for mountain trails",
    "Stainless steel frying pan 28 cm, induction-ready",
    "USB-C charger 65W fast charging, braided cable",
    "Slim-fit stretch denim jeans in washed indigo",
    "Scented soy wax candle for a cosy bedroom",
)


def percentiles(seconds: list[float]) -> dict[str, float]:
    milliseconds = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(milliseconds, 50)), 3),
        "p99_ms": round(float(np.percentile(milliseconds, 99)), 3),
        "mean_ms": round(float(milliseconds.mean()), 3),
    }


def measure(
    predict: Callable[[list[str]], object], texts: list[str], arguments: argparse.Namespace
) -> dict[str, float]:
    """Warm up, then time single texts one after another and whole batches."""
    requests_count, batch_size, batches = arguments.requests, arguments.batch, arguments.batches
    batch = [texts[i % len(texts)] for i in range(batch_size)]
    for i in range(20):
        predict([texts[i % len(texts)]])
    predict(batch)
    single = []
    for i in range(requests_count):
        start = time.perf_counter()
        predict([texts[i % len(texts)]])
        single.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(batches):
        predict(batch)
    elapsed = time.perf_counter() - start
    return {
        **percentiles(single),
        "single_requests": requests_count,
        "batch_size": batch_size,
        "batches": batches,
        "texts_per_second": round(batch_size * batches / elapsed, 1),
    }


def served(model: str, port: int, texts: list[str], arguments: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "prodcat.cli", "serve", "--model", model, "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/ping", timeout=120):
        session = requests.Session()

        def post(batch: list[str]) -> None:
            answer = session.post(
                f"{url}/invocations",
                json={"dataframe_records": [{"description": text} for text in batch]},
                timeout=60,
            )
            answer.raise_for_status()

        return measure(post, texts, arguments)


def in_process(model: str, texts: list[str], arguments: argparse.Namespace) -> dict:
    import mlflow

    loaded = mlflow.pyfunc.load_model(model)

    def predict(batch: list[str]) -> None:
        loaded.predict(pd.DataFrame({"description": batch}))

    return measure(predict, texts, arguments)


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpus": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "packages": {
            name: version(name) for name in ("tensorflow-cpu", "keras", "mlflow", "pandas")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/export", help="model directory or URI")
    parser.add_argument("--texts", type=Path, default=Path("data/prepared/test.csv"))
    parser.add_argument("--requests", type=int, default=500, help="single-text requests")
    parser.add_argument("--batch", type=int, default=1000, help="texts per batch request")
    parser.add_argument("--batches", type=int, default=20, help="batch requests to time")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve.json"))
    arguments = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if arguments.texts.is_file():
        texts = pd.read_csv(arguments.texts, dtype=str, keep_default_na=False)["text"].tolist()
    else:
        texts = list(FALLBACK_TEXTS)
    model = arguments.model if ":" in arguments.model else str(Path(arguments.model).resolve())
    results = {
        "model": arguments.model,
        "machine": machine(),
        "served": served(model, free_port(), texts, arguments),
        "in_process": in_process(model, texts, arguments),
        "target": TARGET,
    }
    results["meets_target"] = {
        "served_p50": results["served"]["p50_ms"] <= TARGET["p50_ms"],
        "served_throughput": results["served"]["texts_per_second"] >= TARGET["texts_per_second"],
    }
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"{'':12}{'p50 ms':>10}{'p99 ms':>10}{'texts/s':>12}")
    for where in ("served", "in_process"):
        figures = results[where]
        print(
            f"{where:12}{figures['p50_ms']:>10.2f}{figures['p99_ms']:>10.2f}"
            f"{figures['texts_per_second']:>12.0f}"
        )
    met = all(results["meets_target"].values())
    print(
        f"target (served): p50 <= {TARGET['p50_ms']:.0f} ms, "
        f">= {TARGET['texts_per_second']:.0f} texts/s: {'met' if met else 'NOT met'}"
    )
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
