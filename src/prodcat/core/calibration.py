"""Probabilities a catalog team can act on: temperature scaling, calibration error, and the
confidence above which a prediction goes live without a person looking at it.

A network trained on log loss is often over-confident on titles unlike its training data.
Dividing its log-probabilities by one temperature, fitted on the validation split, keeps every
ranking and makes the top probability mean what it says; the review threshold is then chosen on
the calibrated validation probabilities for a target accuracy of the accepted predictions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

TEMPERATURE_BOUNDS = (0.05, 20.0)
CALIBRATION_BINS = 15  # equal-width bins of the top probability, as in Guo et al. (2017)
_TINY = 1e-12


@dataclass(frozen=True)
class Calibration:
    """What the exported model needs to calibrate and triage: its temperature and threshold.

    ``reached`` is False when no threshold reached ``target_precision`` on validation: then every
    prediction goes to review, whatever its probability.
    """

    temperature: float = 1.0
    threshold: float = 0.0
    target_precision: float = 0.0
    reached: bool = True

    def probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        return apply_temperature(probabilities, self.temperature)

    def needs_review(self, top_probability: np.ndarray) -> np.ndarray:
        top = np.asarray(top_probability, dtype=np.float64)
        if not self.reached:
            return np.ones(top.shape, dtype=bool)
        return top < self.threshold

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Calibration:
        return cls(
            temperature=float(values["temperature"]),
            threshold=float(values["threshold"]),
            target_precision=float(values["target_precision"]),
            reached=bool(values["reached"]),
        )


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row by row, in float64: the ranking is kept, the spread changes."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _TINY, None))
    scaled = logits / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, label_ids: np.ndarray) -> float:
    """Mean log loss of the true labels (natural log, as scikit-learn's ``log_loss``)."""
    picked = np.asarray(probabilities)[np.arange(len(label_ids)), label_ids]
    return float(-np.mean(np.log(np.clip(picked, _TINY, None))))


def fit_temperature(probabilities: np.ndarray, label_ids: np.ndarray) -> float:
    """The temperature minimising the log loss of ``label_ids`` (the validation split's).

    One parameter on the log scale, bounded, so a degenerate split cannot send it to 0 or
    infinity; 1 (probabilities unchanged) when every row is already right.
    """
    from scipy.optimize import minimize_scalar

    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _TINY, None))
    rows = np.arange(len(label_ids))
    if (logits.argmax(axis=1) == np.asarray(label_ids)).all():
        # Every row right: the log loss falls without end as the temperature falls, so these
        # rows cannot say how sure the model should be (a small or easy validation split).
        return 1.0

    def loss(log_temperature: float) -> float:
        scaled = logits / np.exp(log_temperature)
        shifted = scaled - scaled.max(axis=1, keepdims=True)
        log_normaliser = np.log(np.exp(shifted).sum(axis=1))
        return float(np.mean(log_normaliser - shifted[rows, label_ids]))

    low, high = np.log(TEMPERATURE_BOUNDS)
    found = minimize_scalar(loss, bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return round(float(np.exp(found.x)), 4)


def reliability_table(
    probabilities: np.ndarray, label_ids: np.ndarray, bins: int = CALIBRATION_BINS
) -> pd.DataFrame:
    """Per equal-width bin of the top probability: its range, rows, mean confidence, accuracy.

    The data of the reliability diagram; empty bins have no confidence or accuracy.
    """
    confidence = np.asarray(probabilities).max(axis=1)
    correct = np.asarray(probabilities).argmax(axis=1) == np.asarray(label_ids)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bins are (lower, upper], the first one closed: a probability of exactly 1 is in the last.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / counts
        accuracy = np.bincount(which, weights=correct, minlength=bins) / counts
    return pd.DataFrame(
        {
            "bin": np.arange(bins),
            "lower": edges[:-1].round(6),
            "upper": edges[1:].round(6),
            "rows": counts,
            "confidence": np.where(counts > 0, mean_confidence, np.nan).round(6),
            "accuracy": np.where(counts > 0, accuracy, np.nan).round(6),
        }
    )


def expected_calibration_error(
    probabilities: np.ndarray, label_ids: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """The rows-weighted mean gap between confidence and accuracy over equal-width bins."""
    table = reliability_table(probabilities, label_ids, bins)
    filled = table[table["rows"] > 0]
    gaps = (filled["confidence"] - filled["accuracy"]).abs()
    return round(float((gaps * filled["rows"]).sum() / max(1, int(filled["rows"].sum()))), 6)


def review_threshold(
    confidence: np.ndarray, correct: np.ndarray, target_precision: float
) -> float | None:
    """The lowest confidence ``t`` whose accepted predictions (confidence >= t) are at least
    ``target_precision`` accurate, or None when no threshold reaches it.

    Ties are accepted or reviewed together, so ``t`` is always one of the confidences seen.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if not len(confidence):
        return None
    # Distinct confidences, highest first, and how many rows hold each.
    negated, counts = np.unique(-confidence, return_counts=True)
    right = np.cumsum(correct[np.argsort(-confidence, kind="stable")])
    accepted = np.cumsum(counts)  # rows at or above each distinct confidence
    accuracy = right[accepted - 1] / accepted
    reaching = np.flatnonzero(accuracy >= target_precision)
    if not len(reaching):
        return None
    return float(-negated[reaching[-1]])


def accepted_at(
    confidence: np.ndarray, correct: np.ndarray, calibration: Calibration
) -> dict[str, float]:
    """Share of rows auto-accepted under ``calibration`` and the accuracy of those accepted."""
    accepted = ~calibration.needs_review(confidence)
    count = int(np.count_nonzero(accepted))
    accuracy = float(np.asarray(correct)[accepted].mean()) if count else float("nan")
    return {
        "coverage": round(count / max(1, len(accepted)), 6),
        "accepted_accuracy": round(accuracy, 6) if count else None,
        "accepted_rows": count,
        "rows": len(accepted),
    }


def coverage_curve(confidence: np.ndarray, correct: np.ndarray, steps: int = 100) -> pd.DataFrame:
    """Coverage and accuracy of the accepted predictions at ``steps + 1`` thresholds, taken at
    the quantiles of ``confidence`` so the points step evenly through the coverage (where the
    confidences crowd near 1, a fixed grid would put most points on one spot)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if not len(confidence):
        return pd.DataFrame(columns=["threshold", "coverage", "accuracy"])
    thresholds = np.unique(
        np.quantile(confidence, np.linspace(0.0, 1.0, steps + 1), method="lower")
    )
    rows = []
    for threshold in thresholds:
        accepted = confidence >= threshold
        count = int(np.count_nonzero(accepted))
        rows.append(
            {
                "threshold": round(float(threshold), 6),
                "coverage": round(count / len(confidence), 6),
                "accuracy": round(float(correct[accepted].mean()), 6),
            }
        )
    return pd.DataFrame(rows, columns=["threshold", "coverage", "accuracy"])


def calibrate(
    val_probabilities: np.ndarray, val_label_ids: np.ndarray, target_precision: float
) -> Calibration:
    """Fit the temperature on validation, then choose the review threshold on the calibrated
    validation probabilities."""
    temperature = fit_temperature(val_probabilities, val_label_ids)
    calibrated = apply_temperature(val_probabilities, temperature)
    correct = calibrated.argmax(axis=1) == np.asarray(val_label_ids)
    threshold = review_threshold(calibrated.max(axis=1), correct, target_precision)
    return Calibration(
        temperature=temperature,
        threshold=1.0 if threshold is None else threshold,
        target_precision=target_precision,
        reached=threshold is not None,
    )


def calibration_report(
    raw_probabilities: np.ndarray, label_ids: np.ndarray, calibration: Calibration
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """On the test split: calibration error and log loss before and after, and what the review
    threshold does there; with the reliability table (calibrated) and the coverage curve."""
    calibrated = calibration.probabilities(raw_probabilities)
    confidence = calibrated.max(axis=1)
    correct = calibrated.argmax(axis=1) == np.asarray(label_ids)
    accepted = accepted_at(confidence, correct, calibration)
    summary = {
        **calibration.as_dict(),
        "bins": f"{CALIBRATION_BINS} equal-width bins of the top probability",
        "ece_before": expected_calibration_error(raw_probabilities, label_ids),
        "ece_after": expected_calibration_error(calibrated, label_ids),
        "log_loss_before": round(negative_log_likelihood(raw_probabilities, label_ids), 6),
        "log_loss_after": round(negative_log_likelihood(calibrated, label_ids), 6),
        **accepted,
    }
    tables = {
        "reliability_before": reliability_table(raw_probabilities, label_ids),
        "reliability": reliability_table(calibrated, label_ids),
        "coverage": coverage_curve(confidence, correct),
    }
    return summary, tables


def triage_sentence(summary: dict[str, Any]) -> str:
    """What the review threshold means on the test split, in one line."""
    if not summary["reached"]:
        return (
            f"no threshold reached {summary['target_precision']:.1%} accuracy on validation: "
            "every prediction goes to review"
        )
    if summary["accepted_accuracy"] is None:
        return f"auto-accepts none of the test titles (threshold {summary['threshold']:.4f})"
    return (
        f"auto-accepts {summary['coverage']:.1%} of test titles at "
        f"{summary['accepted_accuracy']:.1%} accuracy (threshold {summary['threshold']:.4f}, "
        f"temperature {summary['temperature']:.3f}); {1 - summary['coverage']:.1%} go to review"
    )
