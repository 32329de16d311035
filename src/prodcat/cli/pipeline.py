"""``prodcat prepare|baseline|train|evaluate|export`` (what ``dvc repro`` runs) and
``prodcat train-worker``. Each checks its ``params.yaml`` section before loading any library."""

from __future__ import annotations

import argparse

from prodcat.core.config import SECTIONS
from prodcat.io.params import load_section


def add_commands(commands: argparse._SubParsersAction) -> None:
    runners = {
        "prepare": run_prepare,
        "baseline": run_baseline,
        "train": run_train,
        "evaluate": run_evaluate,
        "export": run_export,
    }
    for stage, runner in runners.items():
        command = commands.add_parser(
            stage, help=f"run the DVC stage '{stage}' (dvc repro runs it for you)"
        )
        command.set_defaults(func=runner)
    commands.add_parser(
        "train-worker",
        help="train as a non-chief worker of the cluster in TF_CONFIG (train.distribution: "
        "multi_worker); the chief runs `prodcat train`",
    ).set_defaults(func=run_train_worker)


def ready(
    arguments: argparse.Namespace, stage: str, tensorflow: bool, tracking: bool = True
) -> None:
    """Check the stage's params, then load TensorFlow quietly (if it runs Keras) and MLflow (if
    it logs): the stages that need neither start in a fraction of the time and memory."""
    load_section(SECTIONS[stage], stage, arguments.params)
    if tensorflow:
        from prodcat.serving.quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
    if not tracking:
        return
    from prodcat.cli.registry import store_timeout
    from prodcat.io.tracking import configure_tracking

    configure_tracking(sqlite_timeout_seconds=store_timeout(arguments.params))


def run_prepare(arguments: argparse.Namespace) -> None:
    ready(arguments, "prepare", tensorflow=False, tracking=False)
    from prodcat.stages import prepare

    prepare.main(arguments.params)


def run_baseline(arguments: argparse.Namespace) -> None:
    ready(arguments, "baseline", tensorflow=False, tracking=False)  # scikit-learn only
    from prodcat.stages import baseline

    baseline.main(arguments.params)


def run_train(arguments: argparse.Namespace) -> None:
    ready(arguments, "train", tensorflow=True)
    from prodcat.stages import train

    train.main(arguments.params)


def run_train_worker(arguments: argparse.Namespace) -> None:
    """A non-chief worker: it trains with the chief but neither logs to MLflow nor writes files."""
    ready(arguments, "train", tensorflow=True)
    from prodcat.stages import train

    train.main(arguments.params, worker=True)


def run_evaluate(arguments: argparse.Namespace) -> None:
    ready(arguments, "evaluate", tensorflow=True)
    from prodcat.stages import evaluate

    evaluate.main(arguments.params)


def run_export(arguments: argparse.Namespace) -> None:
    ready(arguments, "export", tensorflow=True)
    from prodcat.stages import export

    export.main(arguments.params)
