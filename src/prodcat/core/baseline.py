"""The baseline the network must beat: TF-IDF (word and character n-grams) + LinearSVC.

What a practitioner would pick instead of a neural network, fitted on the same split; the
``evaluate`` stage puts its scores beside the model's, and the promotion gate weighs them. The
fitted baseline is also the network's wide path: its TF-IDF state and its weights go to the
``train`` stage, which freezes them in the network (the exact convex solver beats gradient
descent at fitting a linear model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline, make_union
from sklearn.svm import LinearSVC

from prodcat.core.catalog import LABEL, TEXT
from prodcat.core.config import BaselineConfig
from prodcat.core.features import WideFeatures
from prodcat.core.metrics import label_scores, slice_scores


def build_baseline(config: BaselineConfig) -> Pipeline:
    """scikit-learn's defaults but for the n-gram ranges and C: the baseline as usually run."""
    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, config.word_ngram_max)),
        TfidfVectorizer(
            analyzer="char_wb", ngram_range=(config.char_ngram_min, config.char_ngram_max)
        ),
    )
    return Pipeline([("tfidf", features), ("svm", LinearSVC(C=config.c, random_state=config.seed))])


@dataclass(frozen=True)
class FittedBaseline:
    """The fitted pipeline and its scores on the split."""

    pipeline: Pipeline
    scores: dict

    def wide_features(self) -> WideFeatures:
        """Its TF-IDF state, which recomputes its features without scikit-learn."""
        return WideFeatures.from_union(self.pipeline.named_steps["tfidf"])

    def linear_weights(self, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(coefficients, intercepts)``, one row per class in ``labels``' order, float32.

        A two-class LinearSVC has one decision function, for the second class; it becomes
        margins ``-d/2`` and ``d/2`` so that the softmax of the two reads the same decision.
        """
        svm = self.pipeline.named_steps["svm"]
        if list(map(str, svm.classes_)) != list(labels):
            raise ValueError(f"the baseline's classes {list(svm.classes_)} are not {list(labels)}")
        coefficients, intercepts = svm.coef_, svm.intercept_
        if len(labels) == 2:
            coefficients = np.concatenate([-coefficients, coefficients]) / 2
            intercepts = np.concatenate([-intercepts, intercepts]) / 2
        return coefficients.astype(np.float32), intercepts.astype(np.float32)


def fit_and_score(
    config: BaselineConfig,
    train: pd.DataFrame,
    val: pd.DataFrame,
    test: pd.DataFrame,
    test_slices: dict[str, np.ndarray],
) -> FittedBaseline:
    """The baseline fitted on ``train``; its test accuracy and macro F1 (plus the validation
    ones), and its test accuracy on each slice of the test rows (the slices ``evaluate``
    scores)."""
    model = build_baseline(config).fit(
        train[TEXT].to_numpy(dtype=object), train[LABEL].to_numpy(dtype=object)
    )
    scores: dict = {}
    predicted = {}
    for prefix, split in (("", test), ("val_", val)):
        predicted[prefix] = list(model.predict(split[TEXT].to_numpy(dtype=object)))
        for key, value in label_scores(split[LABEL].tolist(), predicted[prefix]).items():
            scores[f"{prefix}{key}"] = value
    scores["slices"] = slice_scores(test[LABEL].tolist(), predicted[""], test_slices)
    return FittedBaseline(model, scores)
