"""The model card: what a reviewer needs before trusting a registered version. Pure rendering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from prodcat.core.calibration import triage_sentence


@dataclass(frozen=True)
class CardFacts:
    """Everything the card states, gathered by the export stage from the pipeline's outputs."""

    name: str
    data_report: Mapping[str, Any]  # data/prepared/data_report.json
    params: Mapping[str, str]  # the MLflow run's params: train.* and prepare.*
    metrics: Mapping[str, Any]  # reports/metrics.json
    per_class_f1: pd.DataFrame  # category, f1, support; weakest first
    confused_pairs: pd.DataFrame  # actual, predicted, count, share_of_actual
    run_id: str
    model_sha256: str
    # The registry's copy names the commit that trained the model; the workspace copy leaves it
    # out, so committing it never makes it stale.
    git_commit: str | None = None
    weakest: int = 5


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _score(value: Any) -> str:
    return f"{float(value):.4f}" if value is not None else "n/a"


SLICE_NAMES = {
    "unknown_words": "with a word outside the vocabulary",
    "known_words": "every word in the vocabulary",
}


def _pooling(params: Mapping[str, str]) -> str:
    """The pooling, with its head count when it is attention (runs before heads had none)."""
    pooling, heads = params.get("train.pooling"), params.get("train.attention_heads")
    if pooling == "attention" and heads is not None:
        return f"attention pooling ({heads} heads)"
    return f"{pooling} pooling"


def _architecture(params: Mapping[str, str], classes: int) -> str:
    """The network's paths as the run's params describe them (runs before the wide path and
    subwords had neither)."""
    buckets = params.get("prepare.subword_buckets", "0")
    words = "word" + (f" + subword ({buckets} buckets)" if buckets not in ("0", None) else "")
    deep = (
        f"{words} embedding ({params.get('train.embedding_dim')}) → bidirectional LSTM "
        f"({params.get('train.lstm_units')} units) → {params.get('train.attention')} attention "
        f"→ {_pooling(params)} → dense"
    )
    wide = "the baseline's TF-IDF + LinearSVC weights (frozen)"
    paths = []
    if params.get("train.wide") == "True":
        paths.append(f"wide path: {wide}")
    if params.get("train.deep", "True") == "True":
        paths.append(f"deep path: {deep}")
    fused = "scaled and added (scales fitted on validation), then " if len(paths) > 1 else ""
    return f"Keras: {'; '.join(paths)}; {fused}softmax over {classes} categories."


def _split(report: Mapping, params: Mapping[str, str]) -> str:
    kind = report.get("split", {}).get("kind", "stratified")
    if kind == "group":
        kind = f"by group (`{params.get('prepare.group_pattern')}`), unseen groups in val and test"
    return (
        f"{report['rows']['train']} / {report['rows']['val']} / {report['rows']['test']}, "
        f"{kind}, seed {params.get('prepare.seed')}"
    )


def _slice_table(slices: dict[str, dict], baseline_slices: dict[str, dict]) -> str:
    """Test accuracy on each slice of the test titles, beside the baseline's."""
    if not slices:
        return ""
    rows = [
        [
            SLICE_NAMES.get(name, name),
            scores["rows"],
            _score(scores.get("accuracy")),
            _score(baseline_slices.get(name, {}).get("accuracy")),
        ]
        for name, scores in slices.items()
    ]
    return "Accuracy by slice of the test titles:\n\n" + _table(
        ["test titles", "rows", "this model", "baseline"], rows
    )


def _triage(calibration: Mapping[str, Any] | None) -> str:
    """The review threshold's effect on the test split (runs before calibration had none)."""
    if not calibration:
        return ""
    return f"On the test split it {triage_sentence(dict(calibration))}."


def render_model_card(facts: CardFacts) -> str:
    """Markdown, shown as the registered version's description in the MLflow UI."""
    report, params, metrics = facts.data_report, facts.params, facts.metrics
    dropped = report["dropped"]
    rare = ", ".join(dropped["rare_classes"]) or "none"
    baseline = metrics.get("baseline", {})
    weakest = facts.per_class_f1.head(facts.weakest)
    sections = [
        f"# Model card: {facts.name}",
        "Product categorizer: a product title in, its catalog category out, with the "
        "probability and the words the model attended to.",
        "## Model",
        _architecture(params, report["classes"]),
        "## Data",
        _table(
            ["", "value"],
            [
                ["source", f"`{report['source']['path']}` (md5 `{report['source']['md5']}`)"],
                ["rows read", report["source"]["rows"]],
                ["rows kept", report["rows"]["kept"]],
                ["split (train / val / test)", _split(report, params)],
                ["classes", report["classes"]],
                ["dropped: empty text", dropped["empty_text"]],
                ["dropped: missing label", dropped["missing_label"]],
                ["dropped: duplicate texts", dropped["duplicates"]],
                ["dropped: rows of rare classes", f"{dropped['rare_class_rows']} ({rare})"],
                [
                    "dropped: val / test rows of a class train lacks",
                    "{val} / {test}".format(
                        **dropped.get("unseen_class_rows", {"val": 0, "test": 0})
                    ),
                ],
                ["vocabulary", f"{report['tokens']['vocabulary_size']} tokens"],
                ["words read per text", report["tokens"]["sequence_length"]],
            ],
        ),
        "## Parameters",
        _table(["param", "value"], [[f"`{key}`", value] for key, value in sorted(params.items())]),
        "## Test metrics",
        _table(
            ["model", "accuracy", "macro F1", "weighted F1"],
            [
                [
                    "this model",
                    _score(metrics["accuracy"]),
                    _score(metrics["macro_f1"]),
                    _score(metrics["weighted_f1"]),
                ],
                [
                    "baseline: TF-IDF + LinearSVC, same split",
                    _score(baseline.get("accuracy")),
                    _score(baseline.get("macro_f1")),
                    "n/a",
                ],
            ],
        ),
        _slice_table(metrics.get("slices", {}), baseline.get("slices", {})),
        f"## Weakest classes (lowest test F1, {len(weakest)} shown)",
        _table(
            ["category", "F1", "test items"],
            [[row.category, _score(row.f1), row.support] for row in weakest.itertuples()],
        ),
        "## Most confused pairs",
        _table(
            ["true category", "predicted as", "times", "share of the true category"],
            [
                [row.actual, row.predicted, row.count, f"{row.share_of_actual:.1%}"]
                for row in facts.confused_pairs.itertuples()
            ],
        )
        if len(facts.confused_pairs)
        else "No test item was misclassified.",
        "## Intended use",
        "Suggesting a category for a product title from a catalog like the training data. "
        "Probabilities are calibrated on the validation split; a prediction under the review "
        "threshold comes with `needs_review: true` and goes to a person.",
        _triage(metrics.get("calibration")),
        "## Limits",
        "\n".join(
            [
                f"- It only knows the {report['classes']} categories above; anything else gets "
                "the nearest of them, often with high confidence.",
                f"- It reads the first {report['tokens']['sequence_length']} words of a text "
                "(the wide path reads all of them); a word outside the training vocabulary "
                "is known only by its character n-grams.",
                "- Scores hold for data like the test split; other shops, languages or "
                "writing styles need their own evaluation.",
                "- Attention weights show where the model looked, not a proof of why it decided.",
            ]
        ),
        "## Lineage",
        _table(["", "value"], _lineage_rows(facts)),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _lineage_rows(facts: CardFacts) -> list[list[str]]:
    rows = [
        ["MLflow run", f"`{facts.run_id}`"],
        ["weights sha256", f"`{facts.model_sha256}`"],
        ["data md5", f"`{facts.data_report['source']['md5']}`"],
    ]
    if facts.git_commit is None:
        rows.append(["git commit", "on the registered version: `prodcat lineage VERSION`"])
    else:
        commit = facts.git_commit.removesuffix("-dirty")[:12]
        rows += [
            ["git commit", f"`{facts.git_commit}`"],
            ["rebuild", f"`git checkout {commit} && dvc repro`"],
        ]
    return rows
