"""The baseline the network must beat: TF-IDF (word and character n-grams) + LinearSVC.

What a practitioner would pick instead of a neural network, fitted on the same split; the
``evaluate`` stage puts its scores beside the model's, and the promotion gate weighs them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline, make_union
from sklearn.svm import LinearSVC

from prodcat.core.catalog import LABEL, TEXT
from prodcat.core.config import BaselineConfig
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


def fit_and_score(
    config: BaselineConfig,
    train: pd.DataFrame,
    val: pd.DataFrame,
    test: pd.DataFrame,
    test_slices: dict[str, np.ndarray],
) -> dict:
    """Test accuracy and macro F1 (plus the validation ones) of the fitted baseline, and its
    test accuracy on each slice of the test rows (the same slices ``evaluate`` scores)."""
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
    return scores
