import numpy as np
import pytest

from prodcat.core.metrics import (
    class_distribution,
    confusion_rows,
    flat_slice_metrics,
    label_scores,
    most_confused_pairs,
    per_class_f1,
    score,
    slice_scores,
)

LABELS = ["bags", "shoes", "tops"]
TRUTH = np.array([0, 0, 1, 1, 2, 2])
PROBABILITIES = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.6, 0.3, 0.1],
        [0.2, 0.7, 0.1],
        [0.5, 0.4, 0.1],  # a shoe taken for a bag
        [0.1, 0.1, 0.8],
        [0.1, 0.2, 0.7],
    ]
)


def test_headline_scores_match_hand_computed_values() -> None:
    headline = score(TRUTH, PROBABILITIES, LABELS).headline
    assert set(headline) == {"accuracy", "macro_f1", "weighted_f1", "loss"}
    assert headline["accuracy"] == pytest.approx(0.833333, abs=1e-6)  # 5 of 6
    # bags: P 2/3, R 1 → F1 0.8; shoes: P 1, R 1/2 → F1 2/3; tops: F1 1
    assert headline["macro_f1"] == pytest.approx(0.822222, abs=1e-6)
    assert headline["weighted_f1"] == pytest.approx(0.822222, abs=1e-6)  # two items per class
    # -mean(ln 0.8, ln 0.6, ln 0.7, ln 0.4, ln 0.8, ln 0.7)
    assert headline["loss"] == pytest.approx(0.431126, abs=1e-6)


def test_per_class_scores_cover_every_label() -> None:
    scores = score(TRUTH, PROBABILITIES, LABELS)
    assert list(scores.per_class) == LABELS
    assert scores.per_class["bags"]["precision"] == pytest.approx(0.666667, abs=1e-6)
    assert scores.per_class["shoes"]["recall"] == pytest.approx(0.5)
    assert scores.per_class["tops"]["f1-score"] == pytest.approx(1.0)
    assert all(row["support"] == 2 for row in scores.per_class.values())


def test_a_label_never_seen_in_the_test_split_still_gets_a_row() -> None:
    labels = [*LABELS, "hats"]
    probabilities = np.hstack([PROBABILITIES * 0.9, np.full((6, 1), 0.1)])
    scores = score(TRUTH, probabilities, labels)
    assert scores.per_class["hats"]["support"] == 0
    assert scores.confusion.shape == (4, 4)


def test_confusion_matrix_rows_are_actual_and_columns_predicted() -> None:
    confusion = score(TRUTH, PROBABILITIES, LABELS).confusion
    assert confusion.shape == (3, 3)
    np.testing.assert_array_equal(confusion, [[2, 0, 0], [1, 1, 0], [0, 0, 2]])


def test_confusion_rows_name_actual_and_predicted_categories() -> None:
    rows = confusion_rows(TRUTH, PROBABILITIES.argmax(axis=1), LABELS)
    assert len(rows) == len(TRUTH)
    assert rows[0] == {"actual": "bags", "predicted": "bags"}
    assert rows[3] == {"actual": "shoes", "predicted": "bags"}


def test_confusion_rows_refuse_arrays_of_different_lengths() -> None:
    with pytest.raises(ValueError):
        confusion_rows(TRUTH, TRUTH[:-1], LABELS)


def test_label_scores_compare_category_names() -> None:
    scores = label_scores(["bags", "shoes", "shoes"], ["bags", "shoes", "bags"])
    assert scores["accuracy"] == pytest.approx(0.666667, abs=1e-6)
    assert scores["macro_f1"] == pytest.approx(0.666667, abs=1e-6)  # both classes 2/3


def test_most_confused_pairs_rank_the_mistakes() -> None:
    confusion = np.array([[5, 2, 0], [4, 3, 1], [0, 0, 6]])
    pairs = most_confused_pairs(confusion, LABELS, count=5)
    assert [(p["actual"], p["predicted"], p["count"]) for p in pairs] == [
        ("shoes", "bags", 4),
        ("bags", "shoes", 2),
        ("shoes", "tops", 1),
    ]  # stops at the last real mistake, never lists a right answer
    assert pairs[0]["share_of_actual"] == pytest.approx(0.5)
    assert most_confused_pairs(np.eye(3, dtype=int), LABELS) == []


def test_per_class_f1_lists_the_weakest_class_first() -> None:
    table = per_class_f1(score(TRUTH, PROBABILITIES, LABELS).per_class)
    assert list(table.columns) == ["category", "f1", "support"]
    assert table["f1"].is_monotonic_increasing
    assert set(table["category"]) == set(LABELS)
    assert table["support"].sum() == len(TRUTH)


def test_class_distribution_counts_every_class_in_every_split() -> None:
    table = class_distribution({"train": np.array([0, 0, 2]), "test": np.array([1])}, LABELS)
    assert table.to_dict("list") == {
        "category": LABELS,
        "train": [2, 0, 1],
        "test": [0, 1, 0],
    }


def test_slice_scores_count_and_score_each_slice() -> None:
    actual = np.array([0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 0, 2, 1])
    unknown = np.array([False, False, True, True, True])
    scores = slice_scores(actual, predicted, {"unknown": unknown, "known": ~unknown})
    assert scores == {
        "unknown": {"rows": 3, "accuracy": pytest.approx(1 / 3, abs=1e-6)},
        "known": {"rows": 2, "accuracy": 1.0},
    }


def test_an_empty_slice_has_rows_but_no_accuracy() -> None:
    scores = slice_scores(["a", "b"], ["a", "a"], {"empty": np.zeros(2, dtype=bool)})
    assert scores == {"empty": {"rows": 0}}


def test_slice_metrics_flatten_for_mlflow() -> None:
    flat = flat_slice_metrics("test_", {"unknown_words": {"rows": 3, "accuracy": 0.5}})
    assert flat == {"test_slice_unknown_words_rows": 3, "test_slice_unknown_words_accuracy": 0.5}


def test_a_class_absent_from_test_and_never_predicted_does_not_count_in_f1() -> None:
    # A fourth class ("hats") that no test item holds and the model never predicts: a group
    # split can leave such a class out of test. The scores must be those of the three others.
    probabilities = np.hstack([PROBABILITIES, np.zeros((len(PROBABILITIES), 1))])
    scores = score(TRUTH, probabilities, [*LABELS, "hats"])
    assert scores.headline["macro_f1"] == pytest.approx(0.822222, abs=1e-6)
    assert scores.headline["weighted_f1"] == pytest.approx(0.822222, abs=1e-6)
    assert "hats" not in set(per_class_f1(scores.per_class)["category"])


def test_a_class_predicted_but_absent_from_test_counts_as_a_zero() -> None:
    # The shoe taken for a bag is now taken for a hat: the false "hats" class scores 0 and counts.
    probabilities = np.hstack([PROBABILITIES, np.zeros((len(PROBABILITIES), 1))])
    probabilities[3] = [0.1, 0.1, 0.1, 0.7]
    scores = score(TRUTH, probabilities, [*LABELS, "hats"])
    # bags 1, shoes 2/3 (P 1, R 1/2), tops 1, hats 0 → mean 0.666667 (0.888889 without hats)
    assert scores.headline["macro_f1"] == pytest.approx(0.666667, abs=1e-6)
