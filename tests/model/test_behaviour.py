"""Model behaviour tests: what the trained network answers, not how its code is built.

The real default network (wide & deep, subwords) is trained once on the fixture catalog and
queried through the serving predictor, the code path of every served prediction. In the spirit
of CheckList (Ribeiro et al., 2020) and Made With ML's model tests:

- minimum functionality: it beats the majority class on held-out titles, and each answer is a
  distribution whose ``needs_review`` follows the review threshold;
- invariance: letter case, spacing, trailing punctuation and an unseen brand or model number do
  not move a title's category, and a one-letter typo does not either (the typo'd word is
  unknown, but it shares subword pieces with the word it misspells);
- directional: swapping a title's deciding noun for another class's moves it to that class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest

from prodcat.core.catalog import LABEL, TEXT
from prodcat.core.features import WORD_IDS
from prodcat.core.text import OOV_ID
from prodcat.serving.predictor import Predictor

pytestmark = pytest.mark.slow  # the module's fixture trains the network (about 10 s)


def categories(predictor: Predictor, texts: Sequence[str]) -> np.ndarray:
    return predictor.best(list(texts))["category"].to_numpy()


def well_classified(predictor: Predictor, held_out: pd.DataFrame) -> pd.DataFrame:
    """The held-out titles the model gets right: a perturbation must keep their category."""
    right = held_out[categories(predictor, held_out[TEXT]) == held_out[LABEL].to_numpy()]
    assert len(right) >= len(held_out) // 2, "too few right answers to test perturbations on"
    return right


# ------------------------------------------------------------------- minimum functionality


def test_held_out_accuracy_clearly_beats_the_majority_class(
    predictor: Predictor, held_out: pd.DataFrame
) -> None:
    accuracy = (categories(predictor, held_out[TEXT]) == held_out[LABEL].to_numpy()).mean()
    majority = held_out[LABEL].value_counts(normalize=True).max()
    assert accuracy >= majority + 0.3, f"accuracy {accuracy:.2f}, majority class {majority:.2f}"


def test_each_answer_is_a_distribution_and_needs_review_follows_the_threshold(
    predictor: Predictor, held_out: pd.DataFrame
) -> None:
    texts = [*held_out[TEXT], "", "zzzz qqqq"]  # unknown titles get an answer too
    probabilities = predictor.calibrated_probabilities(texts)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(probabilities >= 0)
    answers = predictor.predict(texts, top_k=len(predictor.labels))
    for answer, row in zip(answers.itertuples(), probabilities, strict=True):
        ranked = [entry["probability"] for entry in answer.top_k]
        assert sum(ranked) == pytest.approx(1.0, abs=1e-6)
        assert ranked == sorted(ranked, reverse=True)
        assert answer.top_k[0]["category"] == answer.category
        assert answer.probability == pytest.approx(row.max())
    calibration = predictor.calibration
    expected = answers["probability"] < calibration.threshold if calibration.reached else True
    np.testing.assert_array_equal(answers["needs_review"], expected)
    assert answers["needs_review"].iloc[-2:].all(), "an unknown title went live unreviewed"


# ------------------------------------------------------------------------------ invariance

SURFACE_CHANGES: dict[str, Callable[[str], str]] = {
    "upper case": str.upper,
    "title case": str.title,
    "extra spaces": lambda text: "  " + "   ".join(text.split()) + " ",
    "trailing full stop": lambda text: text + ".",
    "trailing exclamation marks": lambda text: text + "!!",
    "trailing ellipsis": lambda text: text + " ...",
}


@pytest.mark.parametrize("change", SURFACE_CHANGES)
def test_case_spacing_and_trailing_punctuation_change_no_probability(
    predictor: Predictor, held_out: pd.DataFrame, change: str
) -> None:
    texts = held_out[TEXT].tolist()
    changed = [SURFACE_CHANGES[change](text) for text in texts]
    assert changed != texts
    np.testing.assert_allclose(
        predictor.calibrated_probabilities(changed),
        predictor.calibrated_probabilities(texts),
        atol=1e-5,
    )


@pytest.mark.parametrize("token", ["Zentrix", "XR-7700", "Zentrix QX9"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_an_unseen_brand_or_model_number_keeps_the_category(
    predictor: Predictor, held_out: pd.DataFrame, token: str, where: str
) -> None:
    right = well_classified(predictor, held_out)
    words = set(predictor.normalized([token])[0].split())
    assert not words & set(predictor.encoder.vectorizer.index), "the token is not unseen"
    changed = [f"{token} {t}" if where == "before" else f"{t} {token}" for t in right[TEXT]]
    kept = (categories(predictor, changed) == right[LABEL].to_numpy()).mean()
    assert kept >= 0.8, f"{token!r} {where} the title moved {1 - kept:.0%} of them"


# Fixture words (each the deciding word of titles like "Copperleaf handbag" or "Oakridge slim-fit
# jeans") with one letter changed, alone as a title: all the typo has in common with its word
# is subword pieces and character n-grams.
TYPOS = [
    ("handbag", "handbaq", "bags"),
    ("jeans", "jeanz", "bottoms"),
    ("smartwatch", "smarrwatch", "electronics_accessories"),
    ("softshell", "sofrshell", "outerwear"),
]


@pytest.mark.parametrize(("word", "typo", "category"), TYPOS)
def test_a_one_letter_typo_keeps_the_category_through_shared_subwords(
    predictor: Predictor, word: str, typo: str, category: str
) -> None:
    unknown = "z" * len(typo)  # unknown too, and no piece of it is in a fixture word
    word_ids = predictor.inputs([word, typo, unknown])[WORD_IDS][:, 0]
    assert word_ids[0] != OOV_ID and list(word_ids[1:]) == [OOV_ID, OOV_ID]
    subwords = predictor.encoder.subwords
    assert subwords is not None
    assert set(subwords.word(word)) & set(subwords.word(typo)), "no subword piece in common"
    probabilities = predictor.calibrated_probabilities([word, typo, unknown])
    best = [predictor.labels[i] for i in probabilities.argmax(axis=1)]
    assert best[:2] == [category, category]
    assert best[2] != category, "the unknown word alone already says the category"
    column = predictor.labels.index(category)
    assert probabilities[1, column] >= 3 * probabilities[2, column]


# ----------------------------------------------------------------------------- directional

TITLE = "Nordvik {} in grey"  # "Nordvik" is a brand of several classes in the fixture
NOUNS = {
    "softshell jacket": "outerwear",
    "slim-fit jeans": "bottoms",
    "handbag": "bags",
    "stud earrings": "jewelry_watches",
    "baking tray": "kitchen",
    "wall mirror": "home_decor",
    "screen protector": "electronics_accessories",
    "ankle boots": "footwear",
}


@pytest.mark.parametrize("noun", [noun for noun in NOUNS if noun != "softshell jacket"])
def test_swapping_the_deciding_noun_moves_the_title_to_that_nouns_class(
    predictor: Predictor, noun: str
) -> None:
    assert sorted(NOUNS.values()) == sorted(predictor.labels), "a noun for every class"
    original, swapped = TITLE.format("softshell jacket"), TITLE.format(noun)
    assert list(categories(predictor, [original, swapped])) == ["outerwear", NOUNS[noun]]
