"""Whether a batch of new titles still looks like what the model was trained and validated on.

The reference is computed once, when the model is evaluated, and ships with the exported model,
so a registered champion can be checked without the workspace's data. A batch is summarised in
counts while it is scored, chunk by chunk, so any size fits in memory. Pure functions: texts,
predictions and counts in, numbers out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LENGTH_BINS = 10  # quantile bins of the reference titles' word counts
PSI_FLOOR = 1e-4  # share given to an empty bin, so one empty bin cannot make the index infinite
OTHER = "(other categories)"


def psi(expected: Sequence[float], actual: Sequence[float], floor: float = PSI_FLOOR) -> float:
    """Population stability index of two distributions over the same bins (counts or shares).

    0 for identical distributions; by the usual rule of thumb under 0.1 is stable, over 0.25 a
    shift worth acting on.
    """
    expected_shares = _shares(expected, floor)
    actual_shares = _shares(actual, floor)
    return float(
        np.sum((actual_shares - expected_shares) * np.log(actual_shares / expected_shares))
    )


def _shares(counts: Sequence[float], floor: float) -> np.ndarray:
    values = np.asarray(counts, dtype=np.float64)
    total = values.sum()
    shares = values / total if total > 0 else np.full(len(values), 1 / max(1, len(values)))
    return np.clip(shares, floor, None)


def word_counts(normalized_texts: Sequence[str]) -> np.ndarray:
    return np.fromiter(
        (len(text.split()) for text in normalized_texts),
        dtype=np.int64,
        count=len(normalized_texts),
    )


def holds_unknown_word(normalized_texts: Sequence[str], known_words: Collection[str]) -> np.ndarray:
    """Per title, whether one of its words is not in ``known_words`` (the model's vocabulary)."""
    return np.fromiter(
        (any(word not in known_words for word in text.split()) for text in normalized_texts),
        dtype=bool,
        count=len(normalized_texts),
    )


def length_edges(lengths: np.ndarray, bins: int = LENGTH_BINS) -> list[float]:
    """Inner bin edges at the quantiles of ``lengths``, whole word counts; repeats merge."""
    if not len(lengths):
        return []
    quantiles = np.quantile(lengths, np.linspace(0, 1, bins + 1)[1:-1], method="lower")
    return sorted({float(edge) for edge in quantiles})


def length_histogram(lengths: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Counts in the bins (-inf, e1], (e1, e2], ..., (ek, inf)."""
    return np.bincount(np.searchsorted(edges, lengths, side="left"), minlength=len(edges) + 1)


@dataclass
class BatchStatistics:
    """Counts of a batch, added to chunk by chunk as it is scored."""

    length_edges: list[float]
    rows: int = 0
    unscored_rows: int = 0  # blank, too long or not text: kept in the output, not in the counts
    unknown_word_rows: int = 0
    review_rows: int = 0
    confidence_sum: float = 0.0
    length_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    category_counts: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if len(self.length_counts) != len(self.length_edges) + 1:
            self.length_counts = np.zeros(len(self.length_edges) + 1, dtype=np.int64)

    def add(
        self,
        normalized_texts: Sequence[str],
        known_words: Collection[str],
        categories: Sequence[str],
        confidence: np.ndarray,
        needs_review: np.ndarray,
        unscored: int = 0,
    ) -> None:
        """Count one chunk: the scored titles (normalised) with their predictions, and how many
        rows of the chunk could not be scored."""
        self.rows += len(normalized_texts) + unscored
        self.unscored_rows += unscored
        self.unknown_word_rows += int(holds_unknown_word(normalized_texts, known_words).sum())
        self.length_counts += length_histogram(word_counts(normalized_texts), self.length_edges)
        self.category_counts.update(categories)
        self.confidence_sum += float(np.sum(confidence))
        self.review_rows += int(np.count_nonzero(needs_review))

    @property
    def scored_rows(self) -> int:
        return self.rows - self.unscored_rows

    def summary(self) -> dict[str, Any]:
        scored = max(1, self.scored_rows)
        return {
            "rows": self.rows,
            "scored_rows": self.scored_rows,
            "unscored_share": round(self.unscored_rows / max(1, self.rows), 6),
            "unknown_word_share": round(self.unknown_word_rows / scored, 6),
            "length_shares": _rounded(self.length_counts / scored),
            "category_shares": {
                category: round(count / scored, 6)
                for category, count in self.category_counts.most_common()
            },
            "mean_confidence": round(self.confidence_sum / scored, 6),
            "review_share": round(self.review_rows / scored, 6),
        }


def reference_statistics(
    val_texts: Sequence[str],
    known_words: Collection[str],
    val_categories: Sequence[str],
    val_confidence: np.ndarray,
    val_needs_review: np.ndarray,
    labels: Sequence[str],
) -> dict[str, Any]:
    """What a batch is compared with: the validation split, from its normalised texts and the
    model's calibrated predictions on them.

    The validation split is drawn from the same catalog as the training split but was never
    fitted: like a new batch, it holds words the model never learned, and the model is no surer
    of it than of new titles. The training split itself would understate both.
    """
    lengths = word_counts(val_texts)
    edges = length_edges(lengths)
    batch = BatchStatistics(length_edges=edges)
    batch.add(val_texts, known_words, val_categories, val_confidence, val_needs_review)
    summary = batch.summary()
    return {
        "split": "val",
        "rows": len(val_texts),
        "length_edges": edges,
        "length_shares": summary["length_shares"],
        "unknown_word_share": summary["unknown_word_share"],
        "category_shares": {label: summary["category_shares"].get(label, 0.0) for label in labels},
        "mean_confidence": summary["mean_confidence"],
        "review_share": summary["review_share"],
    }


def pooled_categories(
    reference: Mapping[str, float], batch: Mapping[str, float], kept: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The reference's ``kept`` most common categories, one bin each, the rest pooled into one.

    With a bin per category, sampling noise alone lifts the index of a few hundred titles over
    a hundred categories past any alert level; pooling the rare ones keeps it meaningful.
    """
    ranked = sorted(reference, key=lambda category: (-reference[category], category))
    names = ranked[:kept]
    expected = [reference[name] for name in names]
    actual = [batch.get(name, 0.0) for name in names]
    if len(ranked) > kept or set(batch) - set(names):
        names.append(OTHER)
        expected.append(max(0.0, 1.0 - sum(expected)))
        actual.append(max(0.0, 1.0 - sum(actual)))
    return names, np.asarray(expected), np.asarray(actual)


@dataclass(frozen=True)
class Check:
    """One drift statistic: the reference's value, the batch's, and whether it crossed its limit."""

    name: str
    reference: float
    batch: float
    value: float  # what is compared with the limit: a PSI, or the batch minus the reference
    limit: float
    meaning: str

    @property
    def crossed(self) -> bool:
        return self.value > self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reference": round(self.reference, 6),
            "batch": round(self.batch, 6),
            "value": round(self.value, 6),
            "limit": self.limit,
            "crossed": self.crossed,
            "meaning": self.meaning,
        }


def compare(reference: Mapping[str, Any], batch: BatchStatistics, limits: Any) -> dict[str, Any]:
    """The drift report of ``batch`` against ``reference`` under ``limits`` (a MonitorConfig).

    ``alert`` is True when any check crossed its limit and the batch has at least
    ``limits.min_rows`` scored titles; a smaller batch is reported but not judged.
    """
    summary = batch.summary()
    names, expected, actual = pooled_categories(
        reference["category_shares"], summary["category_shares"], limits.category_bins
    )
    checks = [
        Check(
            "unknown_word_share",
            reference["unknown_word_share"],
            summary["unknown_word_share"],
            summary["unknown_word_share"] - reference["unknown_word_share"],
            limits.max_unknown_word_increase,
            "rise in the share of titles holding a word the model never learned",
        ),
        Check(
            "length_psi",
            0.0,
            psi(reference["length_shares"], summary["length_shares"]),
            psi(reference["length_shares"], summary["length_shares"]),
            limits.max_length_psi,
            "population stability index of the titles' word counts",
        ),
        Check(
            "category_psi",
            0.0,
            psi(expected, actual),
            psi(expected, actual),
            limits.max_category_psi,
            "population stability index of the predicted categories",
        ),
        Check(
            "mean_confidence",
            reference["mean_confidence"],
            summary["mean_confidence"],
            reference["mean_confidence"] - summary["mean_confidence"],
            limits.max_confidence_drop,
            "fall in the mean calibrated probability of the predicted category",
        ),
        Check(
            "review_share",
            reference["review_share"],
            summary["review_share"],
            summary["review_share"] - reference["review_share"],
            limits.max_review_increase,
            "rise in the share of titles sent to a person",
        ),
    ]
    judged = batch.scored_rows >= limits.min_rows
    crossed = [check.name for check in checks if check.crossed]
    return {
        "alert": judged and bool(crossed),
        "judged": judged,
        "crossed": crossed if judged else [],
        "rows": summary["rows"],
        "scored_rows": summary["scored_rows"],
        "unscored_share": summary["unscored_share"],
        "checks": [check.as_dict() for check in checks],
        "length": {
            "edges": list(reference["length_edges"]),
            "reference": list(reference["length_shares"]),
            "batch": summary["length_shares"],
        },
        "categories": {
            "names": names,
            "reference": _rounded(expected),
            "batch": _rounded(actual),
        },
    }


def _rounded(values: Any) -> list[float]:
    return [round(float(value), 6) for value in values]
