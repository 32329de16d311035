"""Temperature scaling, calibration error and the review threshold (core/calibration.py)."""

from __future__ import annotations

import numpy as np
import pytest

from prodcat.core.calibration import (
    Calibration,
    accepted_at,
    apply_temperature,
    calibrate,
    calibration_report,
    coverage_curve,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_table,
    review_threshold,
)


def over_confident(rows: int, classes: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z), predictions softmax(4 z): right as often as a calibrated
    model, but far surer of itself, as if its temperature were 1/4."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(rows, classes))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(classes, p=row) for row in truth])
    sharpened = np.exp(4 * logits - (4 * logits).max(axis=1, keepdims=True))
    return sharpened / sharpened.sum(axis=1, keepdims=True), labels


def test_temperature_one_changes_nothing_and_every_temperature_keeps_the_ranking() -> None:
    probabilities, _ = over_confident(200)
    np.testing.assert_allclose(apply_temperature(probabilities, 1.0), probabilities, atol=1e-9)
    for temperature in (0.5, 3.0):
        scaled = apply_temperature(probabilities, temperature)
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
        assert (scaled.argmax(axis=1) == probabilities.argmax(axis=1)).all()


def test_an_over_confident_model_is_cooled_and_its_calibration_error_falls() -> None:
    val, val_labels = over_confident(3000, seed=1)
    test, test_labels = over_confident(3000, seed=2)
    temperature = fit_temperature(val, val_labels)
    assert temperature == pytest.approx(4.0, rel=0.15)  # cooled back
    calibrated = apply_temperature(test, temperature)
    before = expected_calibration_error(test, test_labels)
    after = expected_calibration_error(calibrated, test_labels)
    assert before > 0.15
    assert after < 0.03
    assert negative_log_likelihood(calibrated, test_labels) < negative_log_likelihood(
        test, test_labels
    )


def test_a_validation_split_without_an_error_leaves_the_probabilities_alone() -> None:
    # Every row right: sharpening would always lower the log loss, so nothing bounds it.
    probabilities = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]])
    assert fit_temperature(probabilities, np.array([0, 1, 2])) == 1.0
    assert fit_temperature(probabilities, np.array([0, 1, 1])) < 20.0  # one error: fitted


def test_a_calibrated_model_keeps_a_temperature_near_one() -> None:
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.ones(4), size=5000)
    labels = np.array([rng.choice(4, p=row) for row in probabilities])  # right as often as it says
    assert fit_temperature(probabilities, labels) == pytest.approx(1.0, abs=0.1)
    assert expected_calibration_error(probabilities, labels) < 0.03


def test_reliability_bins_are_equal_width_and_hold_every_row() -> None:
    probabilities, labels = over_confident(500)
    table = reliability_table(probabilities, labels, bins=15)
    assert len(table) == 15
    np.testing.assert_allclose(table["upper"] - table["lower"], 1 / 15, atol=1e-6)
    assert table["rows"].sum() == 500
    exactly_one = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert reliability_table(exactly_one, np.array([0, 0]), bins=15)["rows"].iloc[-1] == 2


def test_the_threshold_is_the_lowest_that_reaches_the_target() -> None:
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, True, False, True, False])
    assert review_threshold(confidence, correct, 1.0) == 0.9
    assert review_threshold(confidence, correct, 0.8) == 0.7  # 4 of 5 at or above 0.7
    assert review_threshold(confidence, correct, 0.5) == 0.6


def test_tied_confidences_are_accepted_or_reviewed_together() -> None:
    confidence = np.array([0.9, 0.8, 0.8, 0.8])
    correct = np.array([True, True, True, False])
    # Accepting one 0.8 without the others would be 100 % accurate; all three make 75 %.
    assert review_threshold(confidence, correct, 0.9) == 0.9


def test_no_threshold_reaching_the_target_says_so() -> None:
    confidence = np.array([0.9, 0.8, 0.7])
    correct = np.array([False, True, True])
    assert review_threshold(confidence, correct, 0.99) is None
    surest_is_wrong = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    calibration = calibrate(surest_is_wrong, np.array([1, 0, 0, 0]), target_precision=0.99)
    assert not calibration.reached
    assert calibration.threshold == 1.0
    assert calibration.needs_review(np.array([1.0, 0.5])).all()  # everything goes to review


def test_calibrate_reaches_the_target_on_validation() -> None:
    val, val_labels = over_confident(4000, seed=5)
    calibration = calibrate(val, val_labels, target_precision=0.9)
    assert calibration.reached
    calibrated = calibration.probabilities(val)
    confidence = calibrated.max(axis=1)
    correct = calibrated.argmax(axis=1) == val_labels
    accepted = accepted_at(confidence, correct, calibration)
    assert accepted["accepted_accuracy"] >= 0.9
    assert 0 < accepted["coverage"] < 1
    assert Calibration.from_dict(calibration.as_dict()) == calibration


def test_the_report_compares_before_and_after_and_draws_the_coverage_curve() -> None:
    val, val_labels = over_confident(3000, seed=6)
    test, test_labels = over_confident(3000, seed=7)
    calibration = calibrate(val, val_labels, target_precision=0.9)
    summary, tables = calibration_report(test, test_labels, calibration)
    assert summary["ece_after"] < summary["ece_before"]
    assert summary["log_loss_after"] < summary["log_loss_before"]
    assert summary["temperature"] == calibration.temperature
    assert "15 equal-width bins" in summary["bins"]
    curve = tables["coverage"]
    assert curve["coverage"].is_monotonic_decreasing
    assert curve["coverage"].iloc[0] == 1.0


def test_coverage_curve_steps_through_the_coverage_at_seen_confidences() -> None:
    confidence = np.linspace(0.5, 1.0, 1000)
    correct = confidence > 0.6
    curve = coverage_curve(confidence, correct, steps=10)
    assert len(curve) == 11
    np.testing.assert_allclose(np.diff(curve["coverage"]), -0.1, atol=0.002)
    assert set(curve["threshold"]) <= {round(value, 6) for value in confidence}
    assert curve["accuracy"].iloc[-1] == 1.0
