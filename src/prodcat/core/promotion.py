"""The quality gate: does a candidate version deserve to replace the champion? Pure functions.

Like TFX's model "blessing": the candidate must clear absolute floors and be at least
``min_delta`` better than the current champion on the gate metric, both measured on the same
test data.
"""

from __future__ import annotations

from dataclasses import dataclass

from prodcat.core.config import PromoteConfig
from prodcat.core.errors import UserError

COMPARED_METRICS = ("accuracy", "macro_f1", "weighted_f1")


@dataclass(frozen=True)
class Contender:
    """A registered version and its test scores."""

    version: str
    metrics: dict[str, float]
    test_data_md5: str


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


def decide(candidate: Contender, champion: Contender | None, config: PromoteConfig) -> Decision:
    failures: list[str] = []
    notes: list[str] = []
    floors = {"accuracy": config.min_accuracy, "macro_f1": config.min_macro_f1}
    for metric, floor in floors.items():
        value = candidate.metrics[metric]
        if value < floor:
            failures.append(f"{metric} {value:.4f} is below the floor {floor:.4f}")
    if champion is None:
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
    """Rows of metric, candidate, champion, delta, floor: what ``prodcat promote`` prints."""
    floors = {"accuracy": config.min_accuracy, "macro_f1": config.min_macro_f1}
    rows = [
        [
            "metric",
            f"candidate v{candidate.version}",
            f"champion v{champion.version}" if champion else "champion (none)",
            "delta",
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
                "-" if best is None else f"{best:.4f}",
                "-" if best is None else f"{value - best:+.4f}",
                f"{floors[metric]:.4f}" if metric in floors else "-",
            ]
        )
    return rows


def render_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
