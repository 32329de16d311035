"""The model card states the data, params, scores, weak spots, use and lineage of a model."""

import pandas as pd

from prodcat.core.model_card import CardFacts, render_model_card

REPORT = {
    "source": {"path": "data/raw/catalog.csv", "rows": 120, "md5": "abc123"},
    "dropped": {
        "empty_text": 1,
        "missing_label": 2,
        "duplicates": 3,
        "rare_class_rows": 4,
        "rare_classes": ["socks"],
    },
    "rows": {"kept": 110, "train": 88, "val": 11, "test": 11},
    "classes": 3,
    "tokens": {"vocabulary_size": 250, "sequence_length": 12},
}
PARAMS = {"train.lstm_units": "64", "train.attention": "self", "prepare.seed": "42"}
METRICS = {
    "accuracy": 0.91,
    "macro_f1": 0.88,
    "weighted_f1": 0.9,
    "slices": {
        "unknown_words": {"rows": 3, "accuracy": 0.6667},
        "known_words": {"rows": 8, "accuracy": 1.0},
    },
    "baseline": {
        "accuracy": 0.9,
        "macro_f1": 0.87,
        "slices": {"unknown_words": {"rows": 3, "accuracy": 1.0}, "known_words": {"rows": 8}},
    },
}


def facts(**changes) -> CardFacts:
    values = {
        "name": "prodcat",
        "data_report": REPORT,
        "params": PARAMS,
        "metrics": METRICS,
        "per_class_f1": pd.DataFrame(
            {"category": ["tops", "bags", "shoes"], "f1": [0.5, 0.9, 1.0], "support": [4, 4, 3]}
        ),
        "confused_pairs": pd.DataFrame(
            {"actual": ["tops"], "predicted": ["bags"], "count": [2], "share_of_actual": [0.5]}
        ),
        "run_id": "run-1",
        "model_sha256": "f" * 64,
        "git_commit": "0123456789abcdef",
        "weakest": 2,
    }
    return CardFacts(**{**values, **changes})


def section(card: str, title: str) -> str:
    return card.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_card_has_every_section() -> None:
    card = render_model_card(facts())
    assert card.startswith("# Model card: prodcat\n")
    titles = [line[3:] for line in card.splitlines() if line.startswith("## ")]
    assert titles == [
        "Model",
        "Data",
        "Parameters",
        "Test metrics",
        "Weakest classes (lowest test F1, 2 shown)",
        "Most confused pairs",
        "Intended use",
        "Limits",
        "Lineage",
    ]


def test_card_states_data_drops_scores_and_lineage() -> None:
    card = render_model_card(facts())
    data = section(card, "Data")
    assert "| rows read | 120 |" in data and "| rows kept | 110 |" in data
    assert "| dropped: rows of rare classes | 4 (socks) |" in data
    assert "88 / 11 / 11, stratified, seed 42" in data
    metrics = section(card, "Test metrics")
    assert "| this model | 0.9100 | 0.8800 | 0.9000 |" in metrics
    assert "| baseline: TF-IDF + LinearSVC, same split | 0.9000 | 0.8700 | n/a |" in metrics
    assert "| with a word outside the vocabulary | 3 | 0.6667 | 1.0000 |" in metrics
    assert "| every word in the vocabulary | 8 | 1.0000 | n/a |" in metrics
    weakest = section(card, "Weakest classes")
    assert "| tops | 0.5000 | 4 |" in weakest and "shoes" not in weakest
    assert "| tops | bags | 2 | 50.0% |" in section(card, "Most confused pairs")
    lineage = section(card, "Lineage")
    assert "`0123456789abcdef`" in lineage and "`abc123`" in lineage and "`run-1`" in lineage
    assert "| `train.lstm_units` | 64 |" in section(card, "Parameters")


def test_card_without_mistakes_or_baseline_says_so() -> None:
    card = render_model_card(
        facts(
            metrics={key: value for key, value in METRICS.items() if key != "baseline"},
            confused_pairs=pd.DataFrame(
                columns=["actual", "predicted", "count", "share_of_actual"]
            ),
        )
    )
    assert "No test item was misclassified." in card
    assert "| 0.9000 | n/a | n/a |" not in card
    assert "| baseline: TF-IDF + LinearSVC, same split | n/a | n/a | n/a |" in card


def test_card_names_the_attention_pooling_heads() -> None:
    with_heads = {**PARAMS, "train.pooling": "attention", "train.attention_heads": "8"}
    model = section(render_model_card(facts(params=with_heads)), "Model")
    assert "self attention → attention pooling (8 heads) → dense; softmax over 3" in model
    averaged = {**PARAMS, "train.pooling": "average", "train.attention_heads": "8"}
    assert "→ average pooling → dense" in section(
        render_model_card(facts(params=averaged)), "Model"
    )


def test_card_names_both_paths_and_the_subwords() -> None:
    both = {
        **PARAMS,
        "train.embedding_dim": "64",
        "train.wide": "True",
        "train.deep": "True",
        "prepare.subword_buckets": "131072",
    }
    model = section(render_model_card(facts(params=both)), "Model")
    assert "wide path: the baseline's TF-IDF + LinearSVC weights (frozen)" in model
    assert "deep path: word + subword (131072 buckets) embedding (64)" in model
    assert "scaled and added (scales fitted on validation), then softmax over 3" in model
    wide_only = {**both, "train.deep": "False"}
    model = section(render_model_card(facts(params=wide_only)), "Model")
    assert "deep path" not in model and "scaled and added" not in model


def test_card_describes_a_group_split_and_its_dropped_rows() -> None:
    report = {
        **REPORT,
        "split": {"kind": "group"},
        "dropped": {**REPORT["dropped"], "unseen_class_rows": {"val": 2, "test": 5}},
    }
    params = {**PARAMS, "prepare.group_pattern": "^\\S+"}
    data = section(render_model_card(facts(data_report=report, params=params)), "Data")
    assert "88 / 11 / 11, by group (`^\\S+`), unseen groups in val and test, seed 42" in data
    assert "| dropped: val / test rows of a class train lacks | 2 / 5 |" in data


def test_intended_use_states_what_the_review_threshold_does_on_test() -> None:
    calibration = {
        "reached": True,
        "target_precision": 0.99,
        "threshold": 0.9163,
        "temperature": 1.3,
        "coverage": 0.904,
        "accepted_accuracy": 0.992,
    }
    card = render_model_card(facts(metrics={**METRICS, "calibration": calibration}))
    use = section(card, "Intended use")
    assert "needs_review" in use
    assert "auto-accepts 90.4% of test titles at 99.2% accuracy" in use
    assert "threshold 0.9163" in use
    assert "auto-accepts" not in section(render_model_card(facts()), "Intended use")
