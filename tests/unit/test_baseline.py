import numpy as np
import pandas as pd
import pytest

from prodcat.core.baseline import fit_and_score
from prodcat.core.config import BaselineConfig
from prodcat.core.metrics import with_baseline


def split(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["text", "label"])


def test_baseline_learns_an_easy_split() -> None:
    words = {"shoes": ["boot", "sneaker", "sandal"], "kitchen": ["pan", "knife", "kettle"]}
    train = split([(f"{w} model {i}", c) for c, ws in words.items() for w in ws for i in range(5)])
    test = split([("leather boot", "shoes"), ("steel pan", "kitchen"), ("kettle 2l", "kitchen")])
    slices = {"first": np.array([True, False, False]), "none": np.zeros(3, dtype=bool)}
    scores = fit_and_score(BaselineConfig(), train, test, test, slices).scores
    assert scores["accuracy"] == 1.0
    assert scores["val_macro_f1"] == 1.0
    assert set(scores) == {
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "val_accuracy",
        "val_macro_f1",
        "val_weighted_f1",
        "slices",
    }
    assert scores["slices"] == {"first": {"rows": 1, "accuracy": 1.0}, "none": {"rows": 0}}


@pytest.mark.parametrize("classes", [2, 3])
def test_the_fitted_baseline_is_a_wide_path_with_the_same_decisions(classes: int) -> None:
    """Its TF-IDF state and weights, as the network's wide path uses them, give the
    baseline's own decision values, in label order (two classes: two opposite margins)."""
    nouns = ["boot", "pan", "tote"][:classes]
    labels = ["shoes", "kitchen", "bags"][:classes]
    train = split(
        [(f"{n} model {i} x{i}", c) for n, c in zip(nouns, labels, strict=True) for i in range(6)]
    )
    test = split([("leather boot", "shoes"), ("steel pan x3", "kitchen")])
    fitted = fit_and_score(BaselineConfig(), train, test, test, {})
    ordered = sorted(labels)
    coefficients, intercepts = fitted.linear_weights(ordered)
    assert coefficients.shape == (classes, fitted.wide_features().size)
    margins = fitted.wide_features().transform(test["text"].tolist()) @ coefficients.T + intercepts
    decisions = fitted.pipeline.decision_function(test["text"].to_numpy(dtype=object))
    if classes == 2:
        np.testing.assert_allclose(margins[:, 1] - margins[:, 0], decisions, rtol=1e-4)
    else:
        np.testing.assert_allclose(margins, decisions, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="classes"):
        fitted.linear_weights(list(reversed(ordered)))


def test_metrics_carry_the_baseline_and_the_lift() -> None:
    model_slices = {"unknown_words": {"rows": 2, "accuracy": 0.5}}
    baseline_slices = {"unknown_words": {"rows": 2, "accuracy": 1.0}}
    summary = with_baseline(
        {"accuracy": 0.98, "macro_f1": 0.95, "weighted_f1": 0.97, "loss": 0.1},
        model_slices,
        {"accuracy": 0.97, "macro_f1": 0.96, "val_accuracy": 0.9, "slices": baseline_slices},
    )
    assert summary["baseline"] == {"accuracy": 0.97, "macro_f1": 0.96, "slices": baseline_slices}
    assert summary["slices"] == model_slices
    assert summary["lift"]["accuracy"] == pytest.approx(0.01)
    assert summary["lift"]["macro_f1"] == pytest.approx(-0.01)
    assert summary["loss"] == 0.1
