"""Scoring a table of any size, one chunk at a time, in the process that loaded the model.

A row that cannot be scored (missing, blank, too long, not text) keeps its place with an
``error`` naming why, and goes to review; it never fails the batch. The limits of one HTTP
request (``requests.MAX_TEXTS_PER_REQUEST``) do not apply here: only the per-text length does,
the same as for a served request.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prodcat.core.drift import BatchStatistics
from prodcat.core.text import normalize_text
from prodcat.serving.predictor import Predictor
from prodcat.serving.requests import MAX_TEXT_CHARS

# The columns scoring adds to each row, in this order.
OUTPUT_COLUMNS = ("category", "probability", "needs_review", "error")


@dataclass(frozen=True)
class BatchScorer:
    """A loaded model's predictor, the words it knows and the drift reference it shipped with."""

    predictor: Predictor
    known_words: Collection[str]
    reference: dict[str, Any] | None  # None for a model exported before it carried one

    def score(
        self, chunk: pd.DataFrame, text_column: str, statistics: BatchStatistics | None = None
    ) -> pd.DataFrame:
        """``chunk`` with :data:`OUTPUT_COLUMNS` added, in the same row order; the batch's
        drift counts are updated with the chunk when ``statistics`` is given."""
        values = chunk[text_column].tolist()
        errors = row_errors(values)
        valid = np.flatnonzero([error is None for error in errors])
        texts = [values[row] for row in valid]
        best = self.predictor.best(texts) if texts else None
        category = np.full(len(values), None, dtype=object)
        probability = np.full(len(values), np.nan)
        needs_review = np.ones(len(values), dtype=bool)
        if best is not None:
            category[valid] = best["category"].to_numpy(dtype=object)
            probability[valid] = best["probability"].to_numpy()
            needs_review[valid] = best["needs_review"].to_numpy()
            if statistics is not None:
                statistics.add(
                    [normalize_text(text) for text in texts],
                    self.known_words,
                    best["category"].tolist(),
                    best["probability"].to_numpy(),
                    best["needs_review"].to_numpy(),
                    unscored=len(values) - len(texts),
                )
        elif statistics is not None:
            statistics.add([], self.known_words, [], np.zeros(0), np.zeros(0), len(values))
        scored = chunk.rename(columns=renamed_inputs(chunk.columns))
        scored["category"] = pd.array(category, dtype="string")
        scored["probability"] = probability
        scored["needs_review"] = needs_review
        scored["error"] = pd.array(errors, dtype="string")
        return scored


def renamed_inputs(columns: Sequence[str]) -> dict[str, str]:
    """Input columns named like an output column (a labelled catalog's ``category``) are kept
    as ``<name>_input``, so the file holds both the truth and the prediction."""
    return {name: f"{name}_input" for name in columns if name in OUTPUT_COLUMNS}


def row_error(value: Any) -> str | None:
    """Why one value cannot be scored, or None if it can."""
    if not isinstance(value, str):
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            return "missing text"
        return f"not text ({type(value).__name__})"
    if not value.strip():
        return "blank text"
    if len(value) > MAX_TEXT_CHARS:
        return f"{len(value)} characters; the limit is {MAX_TEXT_CHARS}"
    return None


def row_errors(values: Sequence[Any]) -> list[str | None]:
    return [row_error(value) for value in values]
