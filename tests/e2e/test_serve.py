"""The real `prodcat serve` (`mlflow models serve`) on loopback, with good and bad requests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from prodcat.cli.serve import is_loopback, serve_command
from tests.e2e.conftest import REPO, Workspace
from tests.e2e.servers import free_port, listening_addresses, running

pytestmark = pytest.mark.slow

GOOD = {"dataframe_records": [{"description": "waterproof hiking shoes"}]}


@pytest.fixture(scope="module")
def served(pipeline: Workspace) -> Iterator[tuple[str, subprocess.Popen, int]]:
    """The champion served on a free loopback port: its URL, process and port."""
    pipeline.run("prodcat", "promote")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ["prodcat", "serve", "--port", str(port)]
    log = pipeline.root / "serve.log"
    with running(command, f"{url}/ping", log, cwd=pipeline.root, env=pipeline.env) as process:
        yield url, process, port


@pytest.fixture(scope="module")
def server(served: tuple[str, subprocess.Popen, int]) -> str:
    return served[0]


def invoke(url: str, body: object) -> requests.Response:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return requests.post(
        f"{url}/invocations", data=data, headers={"Content-Type": "application/json"}, timeout=60
    )


def labels_of(pipeline: Workspace) -> set[str]:
    return set(json.loads((pipeline.root / "data/prepared/labels.json").read_text()))


def test_server_binds_loopback_only(served: tuple[str, subprocess.Popen, int]) -> None:
    _, process, port = served
    assert listening_addresses(process, port) == {"127.0.0.1"}


@pytest.mark.parametrize(
    "body",
    [
        GOOD,
        {"inputs": {"description": ["waterproof hiking shoes", "steel pan"]}},
        {"dataframe_split": {"columns": ["description"], "data": [["waterproof hiking shoes"]]}},
    ],
    ids=["dataframe_records", "inputs", "dataframe_split"],
)
def test_every_input_form_gets_category_probability_top_k_and_needs_review(
    server: str, pipeline: Workspace, body: dict
) -> None:
    answer = invoke(server, body)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) >= 1
    calibration = json.loads((pipeline.root / "models/calibration.json").read_text())
    for prediction in predictions:
        assert prediction["category"] in labels_of(pipeline)
        assert 0 < prediction["probability"] <= 1
        assert len(prediction["top_k"]) == 3
        assert prediction["top_k"][0]["category"] == prediction["category"]
        below = prediction["probability"] < calibration["threshold"]
        assert prediction["needs_review"] is (below or not calibration["reached"])


def test_top_k_is_a_request_param(server: str) -> None:
    answer = invoke(server, {**GOOD, "params": {"top_k": 1}})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"][0]["top_k"]) == 1


def test_explain_is_a_request_param_and_off_by_default(server: str) -> None:
    plain = invoke(server, GOOD)
    assert "attention" not in plain.json()["predictions"][0]
    answer = invoke(server, {**GOOD, "params": {"explain": 2}})
    assert answer.status_code == 200, answer.text
    prediction = answer.json()["predictions"][0]
    words = prediction["attention"]
    assert len(words) == 2
    assert {word["word"] for word in words} <= set(
        GOOD["dataframe_records"][0]["description"].split()
    )
    assert words[0]["weight"] >= words[1]["weight"] > 0  # heaviest first
    assert invoke(server, {**GOOD, "params": {"explain": -1}}).status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"dataframe_records": [{}]}, "description"),
        ({"dataframe_records": [{"title": "boots"}]}, "missing inputs ['description']"),
        ({"dataframe_records": [{"description": None}]}, "is null"),
        ({"dataframe_records": [{"description": 5}]}, "is int; expected text"),
        ({"inputs": {"description": [5]}}, "is int; expected text"),
        ({"inputs": ["boots", 4.5]}, "item 1 is float; expected text"),
        ({"instances": [{"description": True}]}, "is bool; expected text"),
        ({"inputs": {"description": [None]}}, "is null"),
        ({"dataframe_split": {"columns": ["description"], "data": [[7]]}}, "is int"),
        ({"dataframe_records": [{"description": ["boots"]}]}, "is list; expected text"),
        ({"dataframe_records": [{"description": ""}]}, "is empty"),
        ({"dataframe_records": []}, "the request is empty"),
        ({"inputs": {"description": []}}, "the request is empty"),
        ({"dataframe_records": [{"description": "boots"}] * 10_000}, "at most 5000"),
        ({"inputs": {"description": ["boots"] * 10_000}}, "at most 5000"),
        ({"dataframe_records": [{"description": "boot " * 200_000}]}, "the limit is 5000"),
        ("{not json", "valid JSON"),
        ({"inputs": {"description": ["boots " * 800] * 300}}, "1000000 in all"),
        ('{"inputs": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ({"inputs": {"description": ["b" * 5000] * 5000}}, "the limit is 8000000"),
    ],
    ids=[
        "missing-field",
        "wrong-field",
        "null",
        "number",
        "number-inputs",
        "number-inputs-list",
        "bool-instances",
        "null-inputs",
        "number-split",
        "list",
        "empty-string",
        "empty-list",
        "empty-list-inputs",
        "10k-items",
        "10k-items-inputs",
        "1MB-text",
        "invalid-json",
        "1.4M-characters",
        "100k-deep",
        "25MB-body",
    ],
)
def test_bad_requests_get_a_clear_4xx_and_the_server_keeps_serving(
    server: str, body: object, message: str
) -> None:
    answer = invoke(server, body)
    assert 400 <= answer.status_code < 500, answer.text[:500]
    assert message in answer.json()["message"]
    assert invoke(server, GOOD).status_code == 200


def test_a_request_without_content_type_is_415_not_500(server: str) -> None:
    answer = requests.post(f"{server}/invocations", data=json.dumps(GOOD), timeout=60)
    assert answer.status_code == 415, answer.text[:500]
    assert "Content-Type" in answer.json()["message"]


def worker_peak_rss(process: subprocess.Popen) -> int:
    """The highest resident memory any process of the server's group reached (VmHWM), bytes."""
    import psutil

    group = os.getpgid(process.pid)
    peaks = []
    for found in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(found.pid) != group:
                continue
            status = Path(f"/proc/{found.pid}/status").read_text()
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
        peaks += [int(line.split()[1]) * 1024 for line in status.splitlines() if "VmHWM" in line]
    return max(peaks)


def test_three_huge_requests_at_once_leave_memory_bounded(
    served: tuple[str, subprocess.Popen, int],
) -> None:
    """3 concurrent requests of 5,000 texts x 5,000 characters: refused, memory stays put."""
    from concurrent.futures import ThreadPoolExecutor

    url, process, _ = served
    body = json.dumps({"inputs": {"description": ["b" * 5000] * 5000}})
    before = worker_peak_rss(process)
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: invoke(url, body), range(3)))
    assert [answer.status_code for answer in answers] == [413] * 3
    grown = worker_peak_rss(process) - before
    assert grown < 400 * 2**20, f"peak RSS grew by {grown / 2**20:.0f} MB"
    assert invoke(url, GOOD).status_code == 200


def test_serve_refuses_an_unknown_model_and_a_taken_port_in_one_line(
    pipeline: Workspace,
) -> None:
    result = pipeline.run(
        "prodcat", "serve", "--model", "models:/nonexistent@champion", check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "prodcat: error: models:/nonexistent@champion: no version of 'nonexistent' holds "
        "'champion' yet; check --model"
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = pipeline.run("prodcat", "serve", "--port", str(port), check=False)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"prodcat: error: cannot listen on 127.0.0.1:{port}")
    assert "pass --port" in line


def test_serve_builds_the_mlflow_command_on_loopback() -> None:
    assert serve_command("models:/prodcat@champion", port=5005, mlflow="mlflow") == [
        "mlflow",
        "models",
        "serve",
        "-m",
        "models:/prodcat@champion",
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        "5005",
    ]
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")


def test_serve_without_a_champion_says_what_to_do(tmp_path) -> None:
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    result = subprocess.run(
        [sys.executable, "-m", "prodcat.cli", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no version of 'prodcat' holds 'champion' yet; run `prodcat promote`" in result.stderr


def test_benchmark_script_runs_and_writes_its_figures(pipeline: Workspace, tmp_path) -> None:
    out = tmp_path / "serve.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks/serve.py"),
            "--model",
            str(pipeline.root / "models/export"),
            "--texts",
            str(pipeline.root / "data/prepared/test.csv"),
            "--requests",
            "20",
            "--batch",
            "50",
            "--batches",
            "2",
            "--out",
            str(out),
        ],
        cwd=pipeline.root,
        env=pipeline.env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    figures = json.loads(out.read_text())
    for where in ("served", "in_process"):
        assert figures[where]["p50_ms"] > 0
        assert figures[where]["texts_per_second"] > 0
    assert figures["machine"]["cpus"] >= 1
