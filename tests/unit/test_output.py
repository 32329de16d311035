"""What the command prints: quiet TensorFlow start-up, log levels, attention bars."""

import logging
import os
import subprocess
import sys

import pytest

from prodcat.cli import main as cli
from prodcat.cli.predict import attention_bar

IMPORT = "from prodcat.serving.quiet import import_tensorflow_quietly; import_tensorflow_quietly()"


def import_stderr(level: str) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": level}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT], env=env, capture_output=True, text=True, check=True
    )
    return done.stderr


@pytest.mark.slow
def test_tensorflow_start_up_notices_are_held_back_by_default() -> None:
    assert "oneDNN" not in import_stderr("3")
    assert "absl::InitializeLog" not in import_stderr("3")


@pytest.mark.slow
def test_tensorflow_start_up_notices_show_when_asked_for() -> None:
    # The other side of the test above: without it this TensorFlow does print them. (The oneDNN
    # notice comes and goes between runs of the same TensorFlow; Abseil's always comes.)
    assert "absl::InitializeLog" in import_stderr("0")


@pytest.mark.slow
def test_the_baseline_stage_runs_without_tensorflow() -> None:
    # The CLI imports TensorFlow (quietly) only for commands that need it: 10 s saved per run.
    code = (
        "import sys; import prodcat.cli.main, prodcat.io.tracking, prodcat.stages.baseline; "
        "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("flags", "level"),
    [([], logging.INFO), (["-v"], logging.DEBUG), (["-q"], logging.WARNING)],
)
def test_verbose_and_quiet_set_the_log_level(flags: list[str], level: int) -> None:
    arguments = cli.build_parser().parse_args([*flags, "models"])
    assert cli.log_level(arguments) == level


def test_verbose_and_quiet_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["-v", "-q", "models"])
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("weight", "bar"),
    [(0.0, ""), (1.0, "█" * 24), (0.5, "█" * 12), (0.0625, "█▌"), (1.7, "█" * 24)],
)
def test_attention_bar_length_follows_the_weight(weight: float, bar: str) -> None:
    drawn = attention_bar(weight)
    assert len(drawn) == 24
    assert drawn.rstrip() == bar


@pytest.mark.parametrize(
    ("level", "mlflow_level"),
    [(logging.INFO, "WARNING"), (logging.WARNING, "WARNING"), (logging.DEBUG, "DEBUG")],
)
def test_mlflow_logs_follow_the_chosen_level(
    monkeypatch: pytest.MonkeyPatch, level: int, mlflow_level: str
) -> None:
    for name in ("MLFLOW_LOGGING_LEVEL", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    cli.quiet_libraries(level)
    assert os.environ["MLFLOW_LOGGING_LEVEL"] == mlflow_level
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


@pytest.mark.parametrize(
    "argv",
    [
        ["predict"],
        ["predict", "--input", "missing.csv"],
        ["predict", "--model", "no/such/dir", "boots"],
        ["predict", "--input", "tests/fixtures/catalog.csv", "--text-column", "title"],
        ["predict", "--input", "tests/fixtures/catalog.csv", "--output", "no/such/dir/x.csv"],
        ["predict", "--input", "tests/fixtures/catalog.csv", "--output", "scored.xlsx"],
        ["drift", "--input", "tests/fixtures/catalog.csv", "--text-column", "title"],
        ["drift", "--input", "missing.parquet"],
        ["--params", "missing.yaml", "train"],
        ["promote", "--version"],
    ],
)
def test_usage_and_file_errors_answer_before_tensorflow_or_mlflow_load(argv: list[str]) -> None:
    code = (
        "import sys; from prodcat.cli.main import main\n"
        "try:\n    status = main(sys.argv[1:])\n"
        "except SystemExit as exit:\n    status = exit.code\n"
        "loaded = sorted({'tensorflow', 'keras', 'mlflow'} & set(sys.modules))\n"
        "print(status, loaded)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "2 []", done.stderr
    assert "prodcat" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("texts", [[""], ["red boots", "   "], ["boot " * 2000]])
def test_a_text_the_server_would_refuse_is_refused_before_tensorflow_loads(
    texts: list[str],
) -> None:
    """The server's request checks, run on the command line's texts before any model loads."""
    code = (
        "import sys; from prodcat.cli.main import main\n"
        "status = main(sys.argv[1:])\n"
        "print(status, sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "predict", *texts], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "2 []", done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("prodcat: error: predict: 'description' of item ")
