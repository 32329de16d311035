"""The model's inputs: subword ids, and the wide path's TF-IDF equal to scikit-learn's."""

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_union

from prodcat.core.baseline import build_baseline
from prodcat.core.config import BaselineConfig
from prodcat.core.features import (
    SUBWORD_IDS,
    WIDE_FEATURES,
    WORD_IDS,
    FeatureEncoder,
    SubwordSettings,
    TfidfBlock,
    WideFeatures,
    char_wb_ngrams,
)
from prodcat.core.text import normalize_text
from tests.unit.tiny_model import VOCABULARY, tiny_encoder

# Titles as a catalog writes them, normalised as prepare does: accents, non-Latin scripts with
# combining marks (which split scikit-learn's tokens), digits, one-letter words, repeats.
RAW_TITLES = [
    "Nike Men's Air Max 90 Running Shoes - Black/White",
    "Fabindia Women Cotton Kurta (Size M)",
    "Levi's 511 Slim-Fit Jeans 32x34",
    "Crème Brûlée scented candle, 200 g",
    "Café au lait mug – 350 ml",
    "हिंदी टी-शर्ट पुरुषों के लिए",
    "Ärmel T-Shirt für Kinder 2 Stück",
    "A B C d e f g",
    "x",
    "the the the the bag bag",
    "USB-C 3.1 cable 2m 2m 2m",
    "Σοφία γυναικεία τσάντα",
    "北京 手提包 红色",
    "ångström ÅNGSTRÖM angstrom",
    "a1 b2 c3 1 2 3 99 100",
]
TRAIN = [normalize_text(title) for title in RAW_TITLES[:10]]
TEST = [normalize_text(title) for title in RAW_TITLES] + [
    "",
    "unseen words only zorblax qwerty",
    "a",
    "red red red red red red red red red red red red red red red red",
]


def fitted_union(word_max: int = 2, char_range: tuple[int, int] = (2, 5)):
    union = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, word_max)),
        TfidfVectorizer(analyzer="char_wb", ngram_range=char_range),
    )
    return union.fit([*TRAIN, "red bag", "the red bag", "bag the red", "cotton the bag"])


@pytest.mark.parametrize(
    ("word_max", "char_range"), [(2, (2, 5)), (1, (2, 5)), (3, (1, 3)), (4, (3, 3))]
)
def test_the_wide_features_equal_scikit_learns(word_max: int, char_range: tuple) -> None:
    union = fitted_union(word_max, char_range)
    expected = union.transform(np.array(TEST, dtype=object))
    found = WideFeatures.from_union(union).transform(TEST)
    assert found.shape == expected.shape
    assert found.dtype == np.float32
    np.testing.assert_allclose(found.toarray(), expected.toarray(), rtol=1e-6, atol=1e-7)
    assert found.nnz == expected.nnz


def test_the_baselines_own_features_are_reproduced_and_survive_json() -> None:
    pipeline = build_baseline(BaselineConfig()).fit(TRAIN, [str(i % 3) for i in range(10)])
    union = pipeline.named_steps["tfidf"]
    state = json.loads(json.dumps(WideFeatures.from_union(union).as_dict()))
    restored = WideFeatures.from_dict(state)
    expected = union.transform(np.array(TEST, dtype=object)).toarray()
    np.testing.assert_allclose(restored.transform(TEST).toarray(), expected, rtol=1e-6, atol=1e-7)
    # Each text is scored alone exactly as in a batch: nothing leaks between rows.
    one_by_one = np.vstack([restored.transform([text]).toarray() for text in TEST])
    np.testing.assert_array_equal(one_by_one, restored.transform(TEST).toarray())


def test_single_character_words_count_as_character_ngrams_but_not_as_words() -> None:
    union = fitted_union()
    block = TfidfBlock.from_vectorizer(union.transformer_list[0][1])
    assert "a" not in block.terms  # scikit-learn's token pattern needs two characters
    assert char_wb_ngrams("a", 2, 5) == [" a", "a ", " a "]


def test_settings_that_serving_would_not_reproduce_are_refused() -> None:
    vectorizer = TfidfVectorizer(sublinear_tf=True).fit(TRAIN)
    with pytest.raises(ValueError, match="not reproducible"):
        TfidfBlock.from_vectorizer(vectorizer)
    with pytest.raises(ValueError, match="not reproducible"):
        TfidfBlock.from_vectorizer(TfidfVectorizer(analyzer="char").fit(TRAIN))


def test_an_unseen_word_gets_the_subword_ids_of_its_pieces() -> None:
    settings = SubwordSettings()
    seen, unseen = settings.word("leather"), settings.word("leathers")
    assert unseen, "an unseen word still has pieces"
    assert set(seen) & set(unseen)  # "<le", "lea", "eat", "ath", "the", "her", ...
    assert settings.word("leather") == seen  # stable: CRC-32, not Python's salted hash
    assert all(1 <= piece <= settings.buckets for piece in unseen)
    assert len(settings.word("a")) == 1  # "<a>": one 3-gram, no 4- or 5-gram
    capped = SubwordSettings(per_word=4).word("extraordinarily")
    assert len(capped) == 4  # shortest n-grams first
    assert capped == SubwordSettings().word("extraordinarily")[:4]


def test_subword_ids_are_padded_and_cut_like_the_word_ids() -> None:
    settings = SubwordSettings(buckets=100, per_word=5)
    ids = settings.encode(["red boots", "", "a b c d e"], sequence_length=4)
    assert ids.shape == (3, 4, 5)
    assert ids.dtype == np.int32
    assert np.all(ids[0, 2:] == 0) and np.all(ids[1] == 0)  # no word: no ids
    assert list(ids[0, 0][ids[0, 0] > 0]) == list(settings.word("red"))
    assert np.all(ids[2, :, 0] > 0)  # four words kept, the fifth cut


def test_the_encoder_gives_each_mode_its_inputs_and_round_trips_through_json() -> None:
    encoder = tiny_encoder()
    titles = ["red boots", "tote zorblax"]
    inputs = encoder.encode(titles)
    assert sorted(inputs) == [SUBWORD_IDS, WIDE_FEATURES, WORD_IDS]
    assert inputs[WORD_IDS].tolist()[1][:2] == [VOCABULARY.index("tote"), 1]
    assert inputs[WIDE_FEATURES].shape == (2, encoder.wide.size)
    state = json.loads(json.dumps(encoder.state()))
    restored = FeatureEncoder.from_state(state, VOCABULARY)
    again = restored.encode(titles)
    for name in (WORD_IDS, SUBWORD_IDS):
        np.testing.assert_array_equal(again[name], inputs[name])
    np.testing.assert_array_equal(again[WIDE_FEATURES].toarray(), inputs[WIDE_FEATURES].toarray())
    assert sorted(tiny_encoder(deep=False).encode(titles)) == [WIDE_FEATURES]
    assert sorted(tiny_encoder(wide=False, subwords=False).encode(titles)) == [WORD_IDS]


def test_an_unknown_feature_state_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        FeatureEncoder.from_state({"format": 99, "sequence_length": 4}, VOCABULARY)
