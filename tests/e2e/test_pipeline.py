"""The real ``dvc repro`` on the fixture data: outputs, MLflow run, registry, caching, reruns.

The tests share one workspace and run in file order: read-only checks first, then the ones
that change params or force reruns.
"""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from tests.e2e.conftest import SECRETS, Workspace

pytestmark = pytest.mark.slow

PICTURES = (
    "training_curves",
    "confusion_matrix",
    "per_class_f1",
    "class_distribution",
    "attention",
)
OUTPUTS = (
    "data/prepared/train.token_ids.npy",
    "data/prepared/train.subword_ids.npy",
    "data/prepared/train.label_ids.npy",
    "data/prepared/val.token_ids.npy",
    "data/prepared/val.subword_ids.npy",
    "data/prepared/subwords.json",
    "data/prepared/test.label_ids.npy",
    "data/prepared/test.csv",
    "data/prepared/vocab.txt",
    "data/prepared/labels.json",
    "data/prepared/data_report.json",
    "models/baseline/tfidf.json",
    "models/baseline/coef.npy",
    "models/baseline/intercept.npy",
    "models/model.keras",
    "models/features.json",
    "models/export/artifacts/features.json",
    "models/run.json",
    "models/export/MLmodel",
    "models/registered.json",
    "reports/history.csv",
    "reports/baseline.json",
    "reports/metrics.json",
    "reports/evaluation.json",
    "reports/per_class.json",
    "reports/confusion.csv",
    "reports/confused_pairs.csv",
    "reports/per_class_f1.csv",
    "reports/class_distribution.csv",
    "models/MODEL_CARD.md",
    *(f"reports/plots/{name}.png" for name in PICTURES),
)


def client_for(workspace: Workspace) -> MlflowClient:
    return MlflowClient(tracking_uri=workspace.tracking_uri, registry_uri=workspace.tracking_uri)


def read_json(workspace: Workspace, path: str) -> dict:
    return json.loads((workspace.root / path).read_text(encoding="utf-8"))


def labels_of(workspace: Workspace) -> list[str]:
    return json.loads((workspace.root / "data/prepared/labels.json").read_text(encoding="utf-8"))


def test_repro_writes_every_output(pipeline: Workspace) -> None:
    missing = [path for path in OUTPUTS if not (pipeline.root / path).is_file()]
    assert not missing
    headline = read_json(pipeline, "reports/metrics.json")
    metrics = read_json(pipeline, "reports/evaluation.json")
    # `dvc metrics show` lists a few flat numbers; the detail is in the evaluation report.
    assert all(isinstance(value, float) for value in headline.values())
    assert headline["accuracy"] == metrics["accuracy"]
    assert headline["baseline_macro_f1"] == metrics["baseline"]["macro_f1"]
    assert headline["lift_accuracy"] == metrics["lift"]["accuracy"]
    assert {"accuracy", "macro_f1", "weighted_f1", "loss", "baseline", "lift"} <= metrics.keys()
    assert 0 <= metrics["accuracy"] <= 1
    assert 0 <= metrics["baseline"]["macro_f1"] <= 1
    lift = metrics["accuracy"] - metrics["baseline"]["accuracy"]
    assert metrics["lift"]["accuracy"] == pytest.approx(lift, abs=1e-6)
    report = read_json(pipeline, "data/prepared/data_report.json")
    rows = report["rows"]
    assert rows["kept"] == rows["train"] + rows["val"] + rows["test"]
    for scored in (metrics, metrics["baseline"]):  # both on the same slices of the test rows
        slices = scored["slices"]
        assert set(slices) == {"unknown_words", "known_words"}
        assert slices["unknown_words"]["rows"] + slices["known_words"]["rows"] == rows["test"]
        assert slices["known_words"]["rows"] == metrics["slices"]["known_words"]["rows"]
    history = pd.read_csv(pipeline.root / "reports/history.csv")
    columns = {"epoch", "loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"}
    assert columns | {"samples_per_second"} <= set(history.columns)
    assert len(history) >= 1
    assert (history["samples_per_second"] > 0).all()
    training = read_json(pipeline, "models/run.json")
    assert training["train_samples_per_second"] > 0
    assert training["fit_samples_per_second"] > 0
    per_class = read_json(pipeline, "reports/per_class.json")
    assert set(per_class) == set(labels_of(pipeline))


def test_mlflow_run_holds_params_curves_metrics_and_data(pipeline: Workspace) -> None:
    client = client_for(pipeline)
    run_id = read_json(pipeline, "models/run.json")["run_id"]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["train.lstm_units"] == "8"
    assert run.data.params["prepare.path"] == "tests/fixtures/catalog.csv"
    head = pipeline.run("git", "rev-parse", "HEAD").stdout.strip()
    assert run.info.run_name.startswith(f"train {head[:8]} workspace ")
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    metrics = read_json(pipeline, "reports/evaluation.json")
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
    assert run.data.metrics["test_macro_f1"] == pytest.approx(metrics["macro_f1"])
    baseline = metrics["baseline"]["accuracy"]
    assert run.data.metrics["baseline_test_accuracy"] == pytest.approx(baseline)
    for name, scores in metrics["slices"].items():  # an empty slice has rows, no accuracy
        for key, value in scores.items():
            assert run.data.metrics[f"test_slice_{name}_{key}"] == pytest.approx(value)
        for key, value in metrics["baseline"]["slices"][name].items():
            assert run.data.metrics[f"baseline_test_slice_{name}_{key}"] == pytest.approx(value)
    assert any("accuracy" in scores for scores in metrics["slices"].values())
    epochs = len(pd.read_csv(pipeline.root / "reports/history.csv"))
    assert len(client.get_metric_history(run_id, "val_loss")) == epochs
    assert len(client.get_metric_history(run_id, "learning_rate")) == epochs
    artifacts = {item.path for item in client.list_artifacts(run_id, "evaluation")}
    assert {f"evaluation/{name}.png" for name in PICTURES} <= artifacts
    assert {"evaluation/confused_pairs.json", "evaluation/attention_sample.json"} <= artifacts
    assert any(item.path == "data" for item in client.list_artifacts(run_id))
    datasets = {entry.dataset.name for entry in run.inputs.dataset_inputs}
    assert datasets == {"catalog-train", "catalog-val", "catalog-test"}
    assert run.data.tags["git_commit"] == head


def test_export_registers_a_version_with_alias_and_lineage(pipeline: Workspace) -> None:
    client = client_for(pipeline)
    registered = read_json(pipeline, "models/registered.json")
    version = client.get_model_version_by_alias("prodcat", "challenger")
    assert version.version == registered["version"]
    assert version.run_id == read_json(pipeline, "models/run.json")["run_id"]
    lock = yaml.safe_load((pipeline.root / "dvc.lock").read_text(encoding="utf-8"))
    data_hash = next(
        dep["md5"]
        for dep in lock["stages"]["prepare"]["deps"]
        if dep["path"] == "tests/fixtures/catalog.csv"
    )
    assert version.tags["data.md5"] == data_hash
    assert version.tags["git_commit"] == pipeline.run("git", "rev-parse", "HEAD").stdout.strip()
    metrics = read_json(pipeline, "reports/evaluation.json")
    assert float(version.tags["test_accuracy"]) == pytest.approx(metrics["accuracy"])
    assert version.tags["model_sha256"] == read_json(pipeline, "models/run.json")["model_sha256"]
    assert json.loads(version.tags["params"])["train.lstm_units"] == "8"
    # The label set the gate compares before it compares scores.
    assert json.loads(version.tags["labels"]) == sorted(labels_of(pipeline))
    assert version.tags["labels.count"] == str(len(labels_of(pipeline)))


def test_exported_model_predicts_raw_text(
    pipeline: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["Waterproof leather HIKING boots, ankle support!", "café crème mug 🙂", "zzz qqq"]
    local = mlflow.pyfunc.load_model(str(pipeline.root / "models/export"))
    predictions = local.predict(pd.DataFrame({"description": texts}))
    assert list(predictions.columns) == ["category", "probability", "top_k", "needs_review"]
    assert predictions["needs_review"].dtype == bool
    assert set(predictions["category"]) <= set(labels_of(pipeline))
    assert predictions["probability"].between(0, 1).all()
    for row in predictions.itertuples():
        ranked = [choice["probability"] for choice in row.top_k]
        assert len(ranked) == 3
        assert ranked == sorted(ranked, reverse=True)
        assert row.top_k[0]["category"] == row.category
    assert local.metadata.get_input_schema().input_names() == ["description"]
    # For this test only: mlflow.set_registry_uri would outlive it, in this worker's later tests.
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", pipeline.tracking_uri)
    registered = mlflow.pyfunc.load_model("models:/prodcat@challenger")
    pd.testing.assert_frame_equal(
        registered.predict(pd.DataFrame({"description": texts})), predictions
    )


def test_credentials_never_reach_logs_params_tags_or_artifacts(pipeline: Workspace) -> None:
    client = client_for(pipeline)
    run = client.get_run(read_json(pipeline, "models/run.json")["run_id"])
    version = client.get_model_version_by_alias("prodcat", "challenger")
    recorded = [
        json.dumps([run.data.params, run.data.tags, version.tags]),
        *pipeline.transcript,
        *(
            path.read_bytes().decode("utf-8", errors="replace")
            for folder in ("mlruns", "models", "reports", "data/prepared")
            for path in (pipeline.root / folder).rglob("*")
            if path.is_file()
        ),
        (pipeline.root / "mlflow.db").read_bytes().decode("utf-8", errors="replace"),
    ]
    for secret in SECRETS.values():
        assert not [text for text in recorded if secret in text]


def test_second_repro_does_nothing(pipeline: Workspace) -> None:
    client = client_for(pipeline)
    versions_before = len(client.search_model_versions("name = 'prodcat'"))
    runs_before = len(client.search_runs(experiment_ids=["1"]))
    result = pipeline.run("dvc", "repro")
    assert "Data and pipelines are up to date" in result.stdout
    assert "Running stage" not in result.stdout
    assert len(client.search_model_versions("name = 'prodcat'")) == versions_before
    assert len(client.search_runs(experiment_ids=["1"])) == runs_before


def test_predict_command_answers_from_the_workspace_or_the_registry(pipeline: Workspace) -> None:
    """A file of texts is tests/e2e/test_scoring.py's part."""
    labels = set(labels_of(pipeline))
    single = pipeline.run("prodcat", "predict", "waterproof hiking shoes for travel")
    assert "model: models/export (the workspace's export; no 'champion' yet)" in single.stderr
    category, probability, review, text = single.stdout.strip().split("\t")
    assert category in labels
    assert 0 < float(probability) <= 1
    assert review in ("auto", "review")
    assert text == "waterproof hiking shoes for travel"
    registry = pipeline.run(
        "prodcat", "predict", "--model", "models:/prodcat@challenger", "--json", "leather handbag"
    )
    (record,) = json.loads(registry.stdout)
    assert record["description"] == "leather handbag" and record["category"] in labels
    assert "attention" not in record  # only with --explain


def test_predict_explain_shows_each_word_with_its_attention(pipeline: Workspace) -> None:
    text = "waterproof hiking shoes for travel"
    shown = pipeline.run("prodcat", "predict", "--explain", text).stdout.splitlines()
    category, probability, _, echoed = shown[0].split("\t")
    assert category in labels_of(pipeline) and echoed == text
    assert 0 < float(probability) <= 1
    rows = [line.removesuffix("(unknown word)").split() for line in shown[1:]]
    assert [row[0] for row in rows] == text.split()  # every word, in reading order
    weights = [float(row[-1]) for row in rows]
    assert sum(weights) == pytest.approx(1.0, abs=0.01)
    assert any("█" in line for line in shown[1:])  # the bars
    as_json = json.loads(pipeline.run("prodcat", "predict", "--explain", "--json", text).stdout)
    (record,) = as_json
    assert record["description"] == text and record["category"] == category
    assert [word["word"] for word in record["attention"]] == text.split()
    assert sum(word["weight"] for word in record["attention"]) == pytest.approx(1.0, abs=1e-4)


def test_model_card_describes_the_registered_version(pipeline: Workspace) -> None:
    card = (pipeline.root / "models/MODEL_CARD.md").read_text(encoding="utf-8")
    metrics = read_json(pipeline, "reports/evaluation.json")
    report = read_json(pipeline, "data/prepared/data_report.json")
    assert f"| this model | {metrics['accuracy']:.4f} | {metrics['macro_f1']:.4f} |" in card
    assert report["source"]["md5"] in card
    assert "tests/fixtures/catalog.csv" in card
    # The workspace's card leaves the commit out, so committing it never makes it stale; the
    # registry's copy, the version's page in the MLflow UI, names the commit that trained it.
    head = pipeline.run("git", "rev-parse", "HEAD").stdout.strip()
    assert head not in card
    registered = read_json(pipeline, "models/registered.json")
    version = client_for(pipeline).get_model_version("prodcat", registered["version"])
    assert f"| git commit | `{head}` |" in version.description
    assert f"`git checkout {head[:12]} && dvc repro`" in version.description
    assert version.description.split("## Lineage")[0] == card.split("## Lineage")[0]
    logged = pipeline.root / "models/export/artifacts/MODEL_CARD.md"
    assert logged.read_text(encoding="utf-8") == card


def test_predict_command_user_errors_are_one_line(pipeline: Workspace) -> None:
    missing = pipeline.run("prodcat", "predict", "--input", "nope.csv", check=False)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "prodcat: error: nope.csv: input file not found"
    (pipeline.root / "wrong.csv").write_text("title\nboots\n", encoding="utf-8")
    wrong = pipeline.run("prodcat", "predict", "--input", "wrong.csv", check=False)
    assert wrong.returncode == 2
    assert "no column 'description'" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    for text, reason in (("", "is empty"), ("   ", "is empty")):
        empty = pipeline.run("prodcat", "predict", text, check=False)
        assert empty.returncode == 2
        assert empty.stderr.strip().splitlines()[-1].endswith(f"item 0 {reason}")
    # In a file, a text over the limit is one row that cannot be scored, not a failed batch.
    pd.DataFrame({"description": ["boot " * 200_000, "red boots"]}).to_csv(
        pipeline.root / "huge.csv"
    )
    huge = pipeline.run("prodcat", "predict", "--input", "huge.csv")
    first, second = huge.stdout.splitlines()
    assert first.startswith("-\t-\terror: 1000000 characters; the limit is 5000\t")
    assert len(first) < 400
    assert second.split("\t")[0] in labels_of(pipeline)


def test_lineage_traces_a_version_and_its_commit_rebuilds_it_exactly(
    pipeline: Workspace, tmp_path
) -> None:
    """The rebuild a version's lineage prints, run in a fresh clone against the same store:
    identical metrics and weights, so the registry gains no version."""
    version = str(read_json(pipeline, "models/registered.json")["version"])
    shown = pipeline.run("prodcat", "lineage", version).stdout
    commit = pipeline.run("git", "rev-parse", "HEAD").stdout.strip()
    client = client_for(pipeline)
    tags = client.get_model_version("prodcat", version).tags
    assert f"git commit:    {commit}" in shown
    assert tags["data.md5"] in shown
    assert len(shown.splitlines()) <= 12  # one screen; --full adds params and dvc.lock
    full = pipeline.run("prodcat", "lineage", version, "--full").stdout
    assert "train.lstm_units: 8" in full
    after = full.split("dvc.lock of the build (its stages up to evaluate):\n")[1].splitlines()
    block = [line.removeprefix("    ") for line in after if line.startswith("    ")]
    recorded = yaml.safe_load("\n".join(block))
    lock = yaml.safe_load((pipeline.root / "dvc.lock").read_text(encoding="utf-8"))
    # Recorded while export ran: the stages that had finished, exactly as dvc.lock has them.
    assert recorded["stages"] == {k: v for k, v in lock["stages"].items() if k != "export"}
    rebuild = shown.strip().splitlines()[-1]
    assert rebuild == f"rebuild: git checkout {commit} && dvc repro -f && dvc metrics show"
    versions = len(client.search_model_versions("name = 'prodcat'"))
    clone = tmp_path / "rebuild"
    pipeline.run("git", "clone", "--quiet", str(pipeline.root), str(clone))
    rebuilt = Workspace(
        root=clone, env={**pipeline.env, "MLFLOW_TRACKING_URI": pipeline.tracking_uri}
    )
    rebuilt.run("git", "checkout", "--quiet", commit)
    forced = rebuilt.run("dvc", "repro", "-f")
    assert "Running stage 'prepare'" in forced.stdout
    assert (rebuilt.root / "reports/metrics.json").read_bytes() == (
        pipeline.root / "reports/metrics.json"
    ).read_bytes()
    assert read_json(rebuilt, "models/run.json")["model_sha256"] == tags["model_sha256"]
    assert len(client.search_model_versions("name = 'prodcat'")) == versions
    metrics = read_json(rebuilt, "reports/evaluation.json")
    assert metrics["accuracy"] == pytest.approx(float(tags["test_accuracy"]))
    assert metrics["macro_f1"] == pytest.approx(float(tags["test_macro_f1"]))


def test_an_experiment_reruns_what_its_params_touch_and_registers_when_asked(
    pipeline: Workspace,
) -> None:
    client = client_for(pipeline)
    pipeline.run("git", "add", "--all")
    pipeline.run("git", "commit", "--quiet", "-m", "baseline run")
    versions = len(client.search_model_versions("name = 'prodcat'"))
    challenger = client.get_model_version_by_alias("prodcat", "challenger").version
    result = pipeline.run("dvc", "exp", "run", "-S", "train.epochs=2", "--name", "two-epochs")
    # A train param changed: train, evaluate and export rerun, the data and baseline do not.
    assert "Stage 'prepare' didn't change, skipping" in result.stdout
    for stage in ("train", "evaluate", "export"):
        assert f"Running stage '{stage}'" in result.stdout
    assert "Running stage 'prepare'" not in result.stdout
    assert "Running stage 'baseline'" not in result.stdout
    shown = json.loads(pipeline.run("dvc", "exp", "show", "--json").stdout)
    trained_epochs = [train["epochs"] for train in _values_of(shown, "train")]
    assert 2 in trained_epochs  # the experiment, beside the committed baseline
    # An experiment logs its run (named after it) and its model, but registers nothing.
    assert len(client.search_model_versions("name = 'prodcat'")) == versions
    assert client.get_model_version_by_alias("prodcat", "challenger").version == challenger
    runs = client.search_runs(["1"], "attributes.run_name LIKE '% two-epochs %'")
    assert len(runs) == 1
    assert json.loads(runs[0].data.params["train.epochs"]) == 2
    names = [run.info.run_name for run in client.search_runs(["1"])]
    assert len(names) == len(set(names))  # never two runs of the same name
    # Applied, it is registered when asked, and becomes the challenger.
    pipeline.run("dvc", "exp", "apply", "two-epochs")
    registered = pipeline.run("prodcat", "register")
    assert "(alias challenger)" in registered.stdout
    params_diff = pipeline.run("dvc", "params", "diff", "--json")
    assert "train.epochs" in json.loads(params_diff.stdout)["params.yaml"]
    metrics_diff = pipeline.run("dvc", "metrics", "diff", "--json")
    assert "reports/metrics.json" in json.loads(metrics_diff.stdout)
    assert len(client.search_model_versions("name = 'prodcat'")) == versions + 1
    new = client.get_model_version_by_alias("prodcat", "challenger")
    assert new.run_id == runs[0].info.run_id
    assert new.tags["model_sha256"] == read_json(pipeline, "models/run.json")["model_sha256"]
    pipeline.run("dvc", "plots", "show", "-o", "plots_out")
    page = (pipeline.root / "plots_out/index.html").read_text(encoding="utf-8")
    for plot in ("loss", "accuracy", "confusion", "per_class_f1"):
        assert f'<div id = "{plot}">' in page, plot
    for name in PICTURES:
        assert f"workspace_reports_plots_{name}.png" in page, name
    # The experiment against the committed run: both revisions in one set of plots.
    diff = json.loads(pipeline.run("dvc", "plots", "diff", "HEAD", "--json").stdout)["data"]
    assert {"loss", "accuracy", "confusion", "per_class_f1"} <= diff.keys()
    for plot in ("loss", "per_class_f1"):
        assert set(diff[plot][0]["revisions"]) == {"workspace", "HEAD"}, plot
    metrics = pipeline.run("dvc", "metrics", "show", "--json")
    assert "accuracy" in metrics.stdout
    table = pipeline.run("dvc", "metrics", "show").stdout.splitlines()
    assert max(len(line) for line in table) <= 160  # one readable table


def _values_of(tree: object, key: str) -> list:
    """Every value stored under ``key`` anywhere in a JSON tree."""
    if isinstance(tree, dict):
        own = [tree[key]] if key in tree else []
        return own + [found for value in tree.values() for found in _values_of(value, key)]
    if isinstance(tree, list):
        return [found for item in tree for found in _values_of(item, key)]
    return []
