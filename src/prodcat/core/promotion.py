"""The quality gate: does a candidate version deserve to replace the champion? Pure functions.

Like TFX's model "blessing": the candidate must clear absolute floors, stay within
``max_loss_to_baseline`` of the TF-IDF baseline trained on its own split, and be at least
``min_delta`` better than the current champion on the gate metric, both measured on the same
test data. Versions that predict different label sets are not compared on scores at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from prodcat.core.config import PromoteConfig
from prodcat.core.errors import UserError

COMPARED_METRICS = ("accuracy", "macro_f1", "weighted_f1")
LISTED_LABELS = 10  # labels named per side when two label sets differ


@dataclass(frozen=True)
class Contender:
    """A registered version, its test scores, and what it was measured against.

    ``baseline_lift`` is the version's recorded score minus the baseline's, both from its own
    run on its own test split: it stays true when the version is scored again elsewhere.
    ``coverage`` is the share of test titles auto-accepted at the review threshold, if recorded.
    """

    version: str
    metrics: dict[str, float]
    test_data_md5: str
    baseline: dict[str, float] = field(default_factory=dict)
    baseline_lift: dict[str, float] = field(default_factory=dict)
    coverage: float | None = None


def label_set_digest(labels: Iterable[str]) -> str:
    """A fingerprint of the set of labels a version predicts, whatever their order."""
    canonical = json.dumps(sorted(set(labels)), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def label_difference(
    candidate: Contender,
    candidate_labels: Iterable[str],
    champion: Contender,
    champion_labels: Iterable[str],
) -> str | None:
    """Why the two versions' scores do not compare, naming the labels only one of them knows;
    None if they predict the same labels."""
    ours, theirs = set(candidate_labels), set(champion_labels)
    if ours == theirs:
        return None
    parts = []
    for who, only in (
        (f"candidate v{candidate.version}", ours - theirs),
        (f"champion v{champion.version}", theirs - ours),
    ):
        if only:
            listed = ", ".join(repr(label) for label in sorted(only)[:LISTED_LABELS])
            more = len(only) - LISTED_LABELS
            parts.append(f"only {who} has {listed}" + (f" (+{more} more)" if more > 0 else ""))
    return (
        f"the label sets differ ({len(ours)} labels against {len(theirs)}: "
        + "; ".join(parts)
        + "); scores on different labels do not compare"
    )


@dataclass(frozen=True)
class Decision:
    """The verdict and every reason behind it, for the table, the exit code and the tags."""

    passed: bool
    reasons: tuple[str, ...]

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"


def require_scores(contender: Contender, role: str) -> None:
    """Every compared metric must be recorded, else the gate cannot decide."""
    missing = [metric for metric in COMPARED_METRICS if metric not in contender.metrics]
    if missing:
        tags = ", ".join(f"test_{metric}" for metric in missing)
        raise UserError(
            f"{role} v{contender.version} has no {tags} tag; it was not registered by "
            "`prodcat export`, so the gate cannot compare it"
        )


def same_test_data(candidate: Contender, champion: Contender | None) -> bool:
    """Scores are comparable only if both versions were tested on the same split."""
    return champion is None or candidate.test_data_md5 == champion.test_data_md5


def decide(
    candidate: Contender,
    champion: Contender | None,
    config: PromoteConfig,
    labels_differ: str | None = None,
) -> Decision:
    """The verdict. ``labels_differ`` (see :func:`label_difference`) fails the comparison with
    the champion outright: its scores are on other classes."""
    failures: list[str] = []
    notes: list[str] = []
    floors = {"accuracy": config.min_accuracy, "macro_f1": config.min_macro_f1}
    for metric, floor in floors.items():
        value = candidate.metrics[metric]
        if value < floor:
            failures.append(f"{metric} {value:.4f} is below the floor {floor:.4f}")
    lift = candidate.baseline_lift.get(config.metric)
    if lift is None:
        notes.append(f"no baseline {config.metric} recorded: the baseline is not checked")
    elif lift < -config.max_loss_to_baseline:
        failures.append(
            f"{config.metric} is {-lift:.4f} below the TF-IDF baseline of its own run "
            f"({candidate.baseline[config.metric]:.4f}; allowed "
            f"{config.max_loss_to_baseline:.4f}, promote.max_loss_to_baseline)"
        )
    if labels_differ:
        failures.append(labels_differ)
    elif champion is None:
        notes.append("no champion yet: the candidate only has to clear the floors")
    elif champion.version == candidate.version:
        failures.append(f"version {candidate.version} is already the champion")
    else:
        delta = candidate.metrics[config.metric] - champion.metrics[config.metric]
        if delta < config.min_delta:
            failures.append(
                f"{config.metric} {delta:+.4f} against champion v{champion.version} "
                f"(needs {config.min_delta:+.4f} or better)"
            )
        else:
            notes.append(f"{config.metric} {delta:+.4f} against champion v{champion.version}")
    return Decision(passed=not failures, reasons=tuple(failures or notes))


def comparison_table(
    candidate: Contender, champion: Contender | None, config: PromoteConfig
) -> list[list[str]]:
    """Rows of metric, candidate, champion, delta, the candidate's baseline and the floor: what
    ``prodcat promote`` prints. A ``coverage`` row follows when either version records one
    (shown, not gated)."""
    floors = {"accuracy": config.min_accuracy, "macro_f1": config.min_macro_f1}
    rows = [
        [
            "metric",
            f"candidate v{candidate.version}",
            f"champion v{champion.version}" if champion else "champion (none)",
            "delta",
            "baseline",
            "floor",
        ]
    ]
    for metric in COMPARED_METRICS:
        value = candidate.metrics[metric]
        best = champion.metrics[metric] if champion else None
        marker = " *" if metric == config.metric else ""
        rows.append(
            [
                metric + marker,
                f"{value:.4f}",
                _shown(best),
                "-" if best is None else f"{value - best:+.4f}",
                _shown(candidate.baseline.get(metric)),
                f"{floors[metric]:.4f}" if metric in floors else "-",
            ]
        )
    theirs = champion.coverage if champion else None
    if candidate.coverage is not None or theirs is not None:
        ours = candidate.coverage
        delta = "-" if ours is None or theirs is None else f"{ours - theirs:+.4f}"
        rows.append(["coverage", _shown(ours), _shown(theirs), delta, "-", "-"])
    return rows


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def render_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
