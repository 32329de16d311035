import dataclasses

import pytest

from prodcat.core.config import PromoteConfig
from prodcat.core.promotion import (
    Contender,
    comparison_table,
    decide,
    label_difference,
    label_set_digest,
    render_table,
    same_test_data,
)


def contender(version: str, macro_f1: float, accuracy: float = 0.9, data: str = "d1") -> Contender:
    return Contender(
        version, {"accuracy": accuracy, "macro_f1": macro_f1, "weighted_f1": 0.9}, data
    )


GATE = PromoteConfig(min_delta=0.01, min_accuracy=0.8, min_macro_f1=0.5)


def test_first_candidate_only_needs_the_floors() -> None:
    assert decide(contender("1", 0.6), None, GATE).passed
    failed = decide(contender("1", 0.6, accuracy=0.7), None, GATE)
    assert not failed.passed
    assert failed.reasons == ("accuracy 0.7000 is below the floor 0.8000",)


@pytest.mark.parametrize(
    ("candidate_f1", "passed"), [(0.80, False), (0.805, False), (0.81, True), (0.9, True)]
)
def test_candidate_must_beat_the_champion_by_min_delta(candidate_f1: float, passed: bool) -> None:
    decision = decide(contender("2", candidate_f1), contender("1", 0.80), GATE)
    assert decision.passed is passed
    assert decision.verdict == ("PASS" if passed else "FAIL")


def test_the_champion_cannot_replace_itself() -> None:
    decision = decide(contender("1", 0.9), contender("1", 0.9), GATE)
    assert not decision.passed
    assert "already the champion" in decision.reasons[0]


def test_scores_on_different_test_data_do_not_compare() -> None:
    assert same_test_data(contender("2", 0.9), contender("1", 0.8))
    assert not same_test_data(contender("2", 0.9, data="d2"), contender("1", 0.8))
    assert same_test_data(contender("2", 0.9), None)


def test_table_marks_the_gate_metric_and_shows_deltas() -> None:
    table = render_table(comparison_table(contender("2", 0.9), contender("1", 0.8), GATE))
    lines = table.splitlines()
    assert lines[0].split() == [
        "metric",
        "candidate",
        "v2",
        "champion",
        "v1",
        "delta",
        "baseline",
        "floor",
    ]
    macro = next(line for line in lines if line.startswith("macro_f1"))
    assert macro.split() == ["macro_f1", "*", "0.9000", "0.8000", "+0.1000", "-", "0.5000"]


def with_baseline(candidate: Contender, **baseline: float) -> Contender:
    lift = {key: candidate.metrics[key] - value for key, value in baseline.items()}
    return dataclasses.replace(candidate, baseline=baseline, baseline_lift=lift)


@pytest.mark.parametrize(
    ("baseline_f1", "passed"), [(0.80, True), (0.905, True), (0.9101, False), (0.95, False)]
)
def test_a_candidate_may_trail_its_own_baseline_by_max_loss_only(
    baseline_f1: float, passed: bool
) -> None:
    candidate = with_baseline(contender("2", 0.9), macro_f1=baseline_f1)
    decision = decide(candidate, contender("1", 0.8), GATE)
    assert decision.passed is passed
    if not passed:
        assert "below the TF-IDF baseline of its own run" in decision.reasons[0]
        assert "promote.max_loss_to_baseline" in decision.reasons[0]


def test_the_table_shows_the_candidates_baseline_and_coverage_when_recorded() -> None:
    candidate = dataclasses.replace(with_baseline(contender("2", 0.9), macro_f1=0.85), coverage=0.7)
    champion = dataclasses.replace(contender("1", 0.8), coverage=0.6)
    lines = render_table(comparison_table(candidate, champion, GATE)).splitlines()
    macro = next(line for line in lines if line.startswith("macro_f1"))
    assert macro.split()[5] == "0.8500"
    coverage = next(line for line in lines if line.startswith("coverage"))
    assert coverage.split() == ["coverage", "0.7000", "0.6000", "+0.1000", "-", "-"]
    plain = render_table(comparison_table(contender("2", 0.9), contender("1", 0.8), GATE))
    assert "coverage" not in plain


def test_different_label_sets_are_not_compared_and_named() -> None:
    candidate, champion = contender("2", 0.99), contender("1", 0.5)
    assert label_difference(candidate, ["a", "b"], champion, ["b", "a"]) is None
    differ = label_difference(candidate, ["a", "b", "c"], champion, ["a", "B"])
    assert differ is not None
    assert "only candidate v2 has 'b', 'c'" in differ
    assert "only champion v1 has 'B'" in differ
    decision = decide(candidate, champion, GATE, labels_differ=differ)
    assert not decision.passed
    assert decision.reasons == (differ,)
    many = label_difference(candidate, [f"l{i}" for i in range(37)], champion, ["x"])
    assert "(+27 more)" in many


def test_the_label_digest_ignores_order_and_repeats() -> None:
    assert label_set_digest(["b", "a"]) == label_set_digest(["a", "b", "a"])
    assert label_set_digest(["a"]) != label_set_digest(["A"])
