"""The ``prodcat`` command: pipeline stages, prediction, and the model registry.

The only place that configures logging, the environment and MLflow; heavy modules are imported
per command, so ``prodcat --help`` answers at once. User errors become one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from prodcat.errors import UserError, caused_by_interrupt
from prodcat.serving import DEFAULT_PORT, LOOPBACK

logger = logging.getLogger("prodcat")

STAGES = ("prepare", "baseline", "train", "evaluate", "export")
# Commands that load TensorFlow (prepare through Keras' TextVectorization): it is imported first,
# with its start-up chatter held back. The baseline never needs it (the import takes about 10 s);
# export loads the model through the pyfunc adapter, which imports it quietly itself.
TENSORFLOW_COMMANDS = ("prepare", "train", "evaluate", "train-worker", "predict")
DEFAULT_MODEL = "models/export"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prodcat", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="debug logs, without tracebacks"
    )
    loudness.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="params file (default: %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in STAGES:
        commands.add_parser(stage, help=f"run the DVC stage '{stage}' (dvc repro runs it for you)")
    commands.add_parser(
        "train-worker",
        help="train as a non-chief worker of the cluster in TF_CONFIG (train.distribution: "
        "multi_worker); the chief runs `prodcat train`",
    )

    predict = commands.add_parser("predict", help="categorize texts with an exported model")
    predict.add_argument("texts", nargs="*", help="product descriptions to categorize")
    predict.add_argument("--input", type=Path, help="CSV file of descriptions to categorize")
    predict.add_argument("--output", type=Path, help="where to write the batch predictions CSV")
    predict.add_argument(
        "--text-column", default="description", help="text column of --input (%(default)s)"
    )
    predict.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model directory or MLflow URI, e.g. models:/prodcat@champion (%(default)s)",
    )
    predict.add_argument("--top-k", type=int, default=3, help="ranked categories to show")
    predict.add_argument(
        "--explain", action="store_true", help="show the attention weight of each word"
    )
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")

    commands.add_parser("models", help="list the registered versions, their aliases and scores")

    promote = commands.add_parser(
        "promote", help="move the champion alias to a version that passes the quality gate"
    )
    promote.add_argument("--version", help="candidate version (default: the challenger)")
    promote.add_argument("--dry-run", action="store_true", help="report the verdict only")
    promote.add_argument("--force", action="store_true", help="promote past a failed gate")

    commands.add_parser("rollback", help="give the champion alias back to the previous champion")

    lineage = commands.add_parser(
        "lineage", help="where a registered version came from, and how to rebuild it"
    )
    lineage.add_argument("version", help="registered version number")

    serve = commands.add_parser("serve", help="serve a model with `mlflow models serve`")
    serve.add_argument("--model", help="model URI (default: models:/<name>@champion)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (%(default)s)")
    serve.add_argument(
        "--host",
        default=LOOPBACK,
        help="interface to bind (%(default)s); anything else exposes the model to the network",
    )

    stack = commands.add_parser(
        "tracking-server",
        help="run PostgreSQL and `mlflow server` on 127.0.0.1 for development (Ctrl-C stops)",
    )
    stack.add_argument("--port", type=int, default=5000, help="MLflow server port (%(default)s)")
    stack.add_argument(
        "--postgres-port", type=int, default=5433, help="PostgreSQL port (%(default)s)"
    )
    stack.add_argument(
        "--dir",
        type=Path,
        default=Path(".tracking-server"),
        help="database and artifacts folder (%(default)s)",
    )
    stack.add_argument("--workers", type=int, default=2, help="server workers (%(default)s)")

    ui = commands.add_parser("ui", help="browse runs and registered models in the MLflow UI")
    ui.add_argument("--port", type=int, default=5000, help="port (%(default)s)")
    ui.add_argument("--host", default=LOOPBACK, help="interface to bind (%(default)s)")
    return parser


def log_level(arguments: argparse.Namespace) -> int:
    if arguments.debug or arguments.verbose:
        return logging.DEBUG
    return logging.WARNING if arguments.quiet else logging.INFO


def configure_logging(level: int) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("mlflow", "alembic", "urllib3", "git", "matplotlib", "h5py"):
        logging.getLogger(noisy).setLevel(library_level(level))


def library_level(level: int) -> int:
    """Libraries speak only of problems, unless debugging."""
    return level if level == logging.DEBUG else max(level, logging.WARNING)


def quiet_libraries(level: int) -> None:
    """Before TensorFlow and MLflow load: keep C++ chatter and progress bars out of the logs.

    MLflow sets its own loggers' level when imported, from ``MLFLOW_LOGGING_LEVEL``.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", logging.getLevelName(library_level(level)))


def run_stage(stage: str, params: Path) -> None:
    from prodcat.tracking import configure_tracking

    configure_tracking()
    module = importlib.import_module(f"prodcat.stages.{stage}")
    module.main(params)


def run_train_worker(params: Path) -> None:
    """A non-chief worker: it trains with the chief but neither logs to MLflow nor writes files."""
    from prodcat.stages.train import worker_main

    worker_main(params)


def run_predict(arguments: argparse.Namespace) -> None:
    import pandas as pd

    from prodcat.inference import MAX_TEXT_CHARS, TEXT_FIELD, InvalidInput
    from prodcat.tracking import configure_tracking

    if arguments.output and (arguments.explain or arguments.json):
        raise UserError("predict: --output writes a CSV; drop --explain and --json")
    if bool(arguments.texts) == bool(arguments.input):
        raise UserError("predict: give either texts or --input FILE.csv, not both or neither")
    if arguments.input:
        texts = read_texts(arguments.input, arguments.text_column)
    else:
        texts = list(arguments.texts)
    configure_tracking()
    model = load_model(arguments.model)
    params = {"top_k": arguments.top_k}
    if arguments.explain:  # every word, as many as a text may have
        params["explain"] = MAX_TEXT_CHARS
    try:
        predictions = model.predict(pd.DataFrame({TEXT_FIELD: texts}), params=params)
    except InvalidInput as error:
        source = arguments.input or "predict"
        raise UserError(f"{source}: {error.message}") from error
    if arguments.json:
        records = predictions.to_dict(orient="records")
        for text, record in zip(texts, records, strict=True):
            record[TEXT_FIELD] = text
            if "attention" in record:  # in reading order
                record["attention"] = sorted(record["attention"], key=lambda w: w["position"])
        print(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if arguments.explain:
        for text, row in zip(texts, predictions.itertuples(index=False), strict=True):
            print(f"{row.category}\t{row.probability:.3f}\t{text}")
            words = sorted(row.attention, key=lambda w: w["position"])
            width = max(len(w["word"]) for w in words)
            for word in words:
                unknown = "" if word["known"] else "  (unknown word)"
                print(
                    f"  {word['word']:<{width}}  {attention_bar(word['weight'])} "
                    f"{word['weight']:.3f}{unknown}"
                )
        return
    if arguments.output:
        from prodcat.files import atomic_path

        table = pd.DataFrame({TEXT_FIELD: texts}).join(predictions[["category", "probability"]])
        with atomic_path(arguments.output) as temporary:
            table.to_csv(temporary, index=False)
        print(f"wrote {len(table)} predictions to {arguments.output}")
        return
    for text, row in zip(texts, predictions.itertuples(index=False), strict=True):
        print(f"{row.category}\t{row.probability:.3f}\t{text}")


def attention_bar(weight: float, width: int = 24) -> str:
    """A bar ``width`` characters long at weight 1, drawn in eighths of a character."""
    eighths = round(max(0.0, min(1.0, weight)) * width * 8)
    return ("█" * (eighths // 8) + " ▏▎▍▌▋▊▉"[eighths % 8]).rstrip().ljust(width)


def read_texts(path: Path, column: str) -> list[str]:
    import pandas as pd

    if not path.is_file():
        raise UserError(f"{path}: input file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a readable UTF-8 CSV ({error})") from error
    if column not in frame.columns:
        raise UserError(
            f"{path}: no column '{column}' (columns: {', '.join(frame.columns)}); "
            "pass --text-column"
        )
    return frame[column].tolist()


def load_model(uri: str):  # -> mlflow.pyfunc.PyFuncModel
    import mlflow

    if "://" not in uri and not uri.startswith("models:") and not Path(uri).is_dir():
        raise UserError(f"{uri}: no exported model here; run `dvc repro` or pass --model")
    try:
        return mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as error:
        raise UserError(f"{uri}: cannot load the model ({error.message})") from error


def registry_names(params: Path) -> tuple[str, str]:
    """The registered model's name (``export:``) and the champion alias (``promote:``)."""
    from prodcat.config import ExportConfig, PromoteConfig, load_section

    name = load_section(ExportConfig, "export", params).registered_model_name
    return name, load_section(PromoteConfig, "promote", params).champion_alias


def run_models(params: Path) -> None:
    from mlflow import MlflowClient

    from prodcat.promotion import render_table
    from prodcat.registry import list_versions, recorded_scores
    from prodcat.tracking import configure_tracking

    name, champion_alias = registry_names(params)
    configure_tracking()
    versions = list_versions(MlflowClient(), name)
    if not versions:
        raise UserError(f"no registered versions of '{name}' yet; run `dvc repro`")
    rows = [
        ["version", "aliases", "created (UTC)", "git commit", "accuracy", "macro_f1", "champion"]
    ]
    for version, aliases in versions:
        scores = recorded_scores(version)
        rows.append(
            [
                str(version.version),
                ",".join(aliases) or "-",
                _timestamp(version.creation_timestamp),
                version.tags.get("git_commit", "unknown")[:12],
                f"{scores['accuracy']:.4f}" if "accuracy" in scores else "-",
                f"{scores['macro_f1']:.4f}" if "macro_f1" in scores else "-",
                "*" if champion_alias in aliases else "",
            ]
        )
    print(render_table(rows))


def run_promote(arguments: argparse.Namespace) -> int:
    import pandas as pd
    from mlflow import MlflowClient

    from prodcat import layout
    from prodcat.config import ExportConfig, PromoteConfig, load_section
    from prodcat.data import file_md5
    from prodcat.promotion import (
        Contender,
        comparison_table,
        decide,
        render_table,
        require_scores,
        same_test_data,
    )
    from prodcat.registry import (
        PREVIOUS_CHAMPION_TAG,
        alias_holder,
        get_version,
        lock_dir,
        move_alias,
        recorded_scores,
        registry_lock,
        rescore_version,
    )
    from prodcat.tracking import configure_tracking

    export = load_section(ExportConfig, "export", arguments.params)
    gate = load_section(PromoteConfig, "promote", arguments.params)
    name = export.registered_model_name
    uri = configure_tracking()
    client = MlflowClient()
    with registry_lock(lock_dir(uri)):
        if arguments.version:
            candidate_version = get_version(client, name, arguments.version)
        else:
            candidate_version = alias_holder(client, name, export.alias)
            if candidate_version is None:
                raise UserError(
                    f"no version of '{name}' holds alias '{export.alias}'; pass --version"
                )
        champion_version = alias_holder(client, name, gate.champion_alias)

        def contender(version) -> Contender:
            return Contender(
                str(version.version),
                recorded_scores(version),
                version.tags.get("test_data.md5", ""),
            )

        candidate = contender(candidate_version)
        champion = contender(champion_version) if champion_version else None
        require_scores(candidate, "candidate")
        if champion:
            require_scores(champion, "champion")
        if champion and champion.version == candidate.version:
            print(f"{name} v{candidate.version} already holds '{gate.champion_alias}': no change")
            return 0
        scored_on = "the test metrics recorded at export" + (
            " (same test_data.md5 as the champion)" if champion else ""
        )
        if champion and not same_test_data(candidate, champion):
            test_split = layout.split_texts("test")
            if not test_split.is_file():
                raise UserError(
                    f"{test_split}: needed to re-evaluate both versions on the same test data; "
                    "run `dvc repro prepare`"
                )
            frame = pd.read_csv(test_split, dtype=str, keep_default_na=False)
            texts, labels = frame["text"].tolist(), frame["label"].tolist()
            print(f"test data differ: re-evaluating v{candidate.version} and v{champion.version}")
            current = file_md5(test_split)
            candidate, champion = (
                Contender(c.version, rescore_version(name, c.version, texts, labels), current)
                for c in (candidate, champion)
            )
            scored_on = f"both re-evaluated on {test_split} (md5 {current})"
        decision = decide(candidate, champion, gate)
        print(render_table(comparison_table(candidate, champion, gate)))
        print(f"scores: {scored_on}")
        print(f"verdict: {decision.verdict} ({'; '.join(decision.reasons)})")
        if arguments.dry_run:
            print("dry run: nothing changed")
            return 0 if decision.passed else 1
        if not decision.passed and not arguments.force:
            print(f"'{gate.champion_alias}' stays on v{champion.version if champion else '(none)'}")
            return 1
        record = {
            PREVIOUS_CHAMPION_TAG: champion.version if champion else "none",
            "champion.promoted_at": _now(),
            "champion.forced": str(arguments.force and not decision.passed).lower(),
            "champion.metric": gate.metric,
            "champion.candidate_value": str(candidate.metrics[gate.metric]),
            "champion.previous_value": str(champion.metrics[gate.metric]) if champion else "none",
            "champion.reason": "; ".join(decision.reasons),
            "champion.scores": scored_on,
        }
        move_alias(client, name, gate.champion_alias, candidate.version, record)
    forced = " (forced past a failed gate)" if record["champion.forced"] == "true" else ""
    print(f"'{gate.champion_alias}' is now {name} v{candidate.version}{forced}")
    return 0


def run_rollback(params: Path) -> None:
    from mlflow import MlflowClient

    from prodcat.registry import (
        PREVIOUS_CHAMPION_TAG,
        alias_holder,
        lock_dir,
        move_alias,
        registry_lock,
    )
    from prodcat.tracking import configure_tracking

    name, alias = registry_names(params)
    uri = configure_tracking()
    client = MlflowClient()
    with registry_lock(lock_dir(uri)):
        current = alias_holder(client, name, alias)
        if current is None:
            raise UserError(f"'{name}' has no '{alias}' to roll back")
        previous = current.tags.get(PREVIOUS_CHAMPION_TAG, "none")
        if previous == "none":
            raise UserError(f"{name} v{current.version} has no previous champion to roll back to")
        record = {
            "champion.promoted_at": _now(),
            "champion.reason": f"rollback from v{current.version}",
            "champion.rolled_back_from": str(current.version),
        }
        move_alias(client, name, alias, previous, record)
    print(f"'{alias}' rolled back from {name} v{current.version} to v{previous}")


def run_lineage(arguments: argparse.Namespace) -> None:
    from mlflow import MlflowClient

    from prodcat.registry import lineage
    from prodcat.tracking import configure_tracking

    name, _ = registry_names(arguments.params)
    configure_tracking()
    found = lineage(MlflowClient(), name, arguments.version)
    print(f"{found.name} v{found.version}")
    print(f"  MLflow run:    {found.run_id}")
    print(f"  git commit:    {found.git_commit}")
    print(f"  data:          {found.data_path} (md5 {found.data_md5})")
    print(f"  test split:    md5 {found.test_data_md5}")
    print("  test metrics:  " + ", ".join(f"{k}={v}" for k, v in sorted(found.metrics.items())))
    print("  params:")
    for key, value in found.params.items():
        print(f"    {key}: {value}")
    if found.dvc_lock:
        print("  dvc.lock of the build:")
        print("\n".join(f"    {line}" for line in found.dvc_lock.rstrip().splitlines()))
    if found.git_commit.endswith("-dirty"):
        print("  warning: built from uncommitted changes; the commit alone may not rebuild it")
    print(f"rebuild: {found.rebuild_command}")


def run_serve(arguments: argparse.Namespace) -> None:
    from prodcat.serving import champion_uri, is_loopback, mlflow_executable, serve_command
    from prodcat.tracking import configure_tracking

    if not 0 < arguments.port < 65536:
        raise UserError(f"--port {arguments.port} is out of range 1-65535")
    # models:/ URIs resolve against the same store the CLI uses (MLFLOW_TRACKING_URI or mlflow.db).
    os.environ["MLFLOW_TRACKING_URI"] = configure_tracking()
    model = arguments.model
    if model is None:
        from mlflow import MlflowClient

        from prodcat.registry import alias_holder

        name, alias = registry_names(arguments.params)
        if alias_holder(MlflowClient(), name, alias) is None:
            raise UserError(
                f"no version of '{name}' holds '{alias}' yet; run `prodcat promote` or pass --model"
            )
        model = champion_uri(name, alias)
    if not is_loopback(arguments.host):
        logger.warning(
            "WARNING: binding %s exposes the model, without authentication, to every machine "
            "that can reach this one; use --host 127.0.0.1 unless that is what you want",
            arguments.host,
        )
    mlflow = mlflow_executable()
    command = serve_command(model, arguments.host, arguments.port, mlflow)
    logger.info("serving %s on http://%s:%d/invocations", model, arguments.host, arguments.port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)


def run_tracking_server(arguments: argparse.Namespace) -> None:
    from prodcat.tracking_server import tracking_stack

    for name in ("port", "postgres_port"):
        if not 0 < getattr(arguments, name) < 65536:
            raise UserError(f"--{name.replace('_', '-')} is out of range 1-65535")
    arguments.dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops both servers too, like Ctrl-C
    with tracking_stack(
        arguments.dir, arguments.port, arguments.postgres_port, arguments.workers
    ) as stack:
        print(f"export MLFLOW_TRACKING_URI={stack.url}", flush=True)
        stack.server.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_ui(arguments: argparse.Namespace) -> None:
    """``mlflow ui`` on the store the pipeline writes to (``MLFLOW_TRACKING_URI`` or mlflow.db)."""
    from prodcat.serving import mlflow_executable
    from prodcat.tracking import tracking_uri

    if not 0 < arguments.port < 65536:
        raise UserError(f"--port {arguments.port} is out of range 1-65535")
    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        raise UserError(f"MLFLOW_TRACKING_URI is a server ({uri}): open it in a browser instead")
    mlflow = mlflow_executable()
    command = [mlflow, "ui", "--backend-store-uri", uri, "--host", arguments.host]
    command += ["--port", str(arguments.port)]
    logger.info("MLflow UI on http://%s:%d (Ctrl-C stops it)", arguments.host, arguments.port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _timestamp(milliseconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(milliseconds / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    level = log_level(arguments)
    configure_logging(level)
    quiet_libraries(level)
    try:
        if arguments.command in TENSORFLOW_COMMANDS:
            from prodcat.quiet import import_tensorflow_quietly

            import_tensorflow_quietly()
        if arguments.command in STAGES:
            run_stage(arguments.command, arguments.params)
        elif arguments.command == "train-worker":
            run_train_worker(arguments.params)
        elif arguments.command == "predict":
            run_predict(arguments)
        elif arguments.command == "models":
            run_models(arguments.params)
        elif arguments.command == "promote":
            return run_promote(arguments)
        elif arguments.command == "rollback":
            run_rollback(arguments.params)
        elif arguments.command == "lineage":
            run_lineage(arguments)
        elif arguments.command == "serve":
            run_serve(arguments)
        elif arguments.command == "ui":
            run_ui(arguments)
        elif arguments.command == "tracking-server":
            run_tracking_server(arguments)
    except UserError as error:
        if arguments.debug:
            raise
        print(f"prodcat: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return interrupted()
    except Exception as error:
        from mlflow.exceptions import MlflowException

        if caused_by_interrupt(error):
            logger.debug("while stopping on Ctrl-C: %r", error)
            return interrupted()
        if arguments.debug or not isinstance(error, MlflowException):
            raise
        print(f"prodcat: MLflow error: {error.message}", file=sys.stderr)
        return 1
    return 0


def interrupted() -> int:
    """Report Ctrl-C as a shell does: one line, exit status 128 + SIGINT."""
    print("prodcat: interrupted; outputs left as they were", file=sys.stderr)
    return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
