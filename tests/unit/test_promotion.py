import pytest

from prodcat.core.config import PromoteConfig
from prodcat.core.promotion import Contender, comparison_table, decide, render_table, same_test_data


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
    assert lines[0].split() == ["metric", "candidate", "v2", "champion", "v1", "delta", "floor"]
    macro = next(line for line in lines if line.startswith("macro_f1"))
    assert macro.split() == ["macro_f1", "*", "0.9000", "0.8000", "+0.1000", "0.5000"]
