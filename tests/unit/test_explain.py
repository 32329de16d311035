"""Attention explanations: a distribution over the real words, and it points at the deciding one."""

import keras
import numpy as np
import pytest

from prodcat.core.explain import attention_explainer, explanations, word_weights
from prodcat.core.features import WORD_IDS, tensor_inputs
from prodcat.core.model import Architecture, build_model
from tests.unit.tiny_model import tiny_encoder, tiny_network

VARIANTS = [(a, p) for a in ("self", "additive") for p in ("attention", "average")]
TOKENS = np.array([[5, 6, 7, 0, 0, 0], [9, 8, 7, 6, 5, 4], [3, 0, 0, 0, 0, 0]], dtype=np.int32)


def small_model(attention: str = "self", pooling: str = "attention", **sizes: int) -> keras.Model:
    """The deep path alone, on word ids: what the explanation reads."""
    return build_model(
        Architecture(
            vocabulary_size=sizes.get("vocabulary_size", 30),
            sequence_length=sizes.get("sequence_length", TOKENS.shape[1]),
            num_classes=sizes.get("num_classes", 3),
            embedding_dim=sizes.get("embedding_dim", 8),
            lstm_units=sizes.get("lstm_units", 8),
            dropout=0.1,
            attention=attention,
            pooling=pooling,
            attention_heads=sizes.get("attention_heads", 2),
        )
    )


@pytest.mark.parametrize(("attention", "pooling"), VARIANTS)
def test_weights_are_a_distribution_over_the_real_tokens(attention: str, pooling: str) -> None:
    model = small_model(attention, pooling)
    probabilities, weights = attention_explainer(model)({WORD_IDS: TOKENS})
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(weights >= 0)
    assert np.all(weights[TOKENS == 0] == 0), "padding got attention"
    assert np.all(weights[TOKENS != 0] > 0)
    assert weights[2, 0] == pytest.approx(1.0)  # a one-word text: all the attention is on it
    # The explaining pass is the model's own forward pass: same probabilities.
    expected = np.asarray(model({WORD_IDS: TOKENS}))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_the_wide_and_deep_model_is_explained_over_its_words() -> None:
    """With subwords and the wide path beside the deep one, the weights still cover the words,
    and the probabilities are the whole model's."""
    encoder = tiny_encoder()
    model = tiny_network(encoder)
    titles = ["red leather boots", "tote", "zorblax canvas shirt cotton"]
    inputs = encoder.encode(titles)
    probabilities, weights = attention_explainer(model)(inputs)
    words = inputs[WORD_IDS]
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(weights[words == 0] == 0)
    assert np.all(weights[words != 0] > 0)
    expected = np.asarray(model(tensor_inputs(inputs)))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_a_model_without_a_deep_path_cannot_be_explained() -> None:
    with pytest.raises(ValueError, match="no attention layer"):
        attention_explainer(tiny_network(tiny_encoder(deep=False)))


def test_self_attention_scores_become_the_attention_each_word_receives() -> None:
    token_ids = np.array([[4, 5, 0]])
    scores = np.array([[[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.3, 0.3, 0.4]]])  # row 3: padding
    np.testing.assert_allclose(word_weights(scores, token_ids), [[0.75, 0.25, 0.0]])


def test_explanations_keep_the_words_as_typed_and_flag_unknown_ones() -> None:
    token_ids = np.array([[7, 1, 9, 0]])  # 1 is the out-of-vocabulary id
    explained = explanations(
        ["Red ZORBLAX Shoes"],
        ["red zorblax shoes"],
        token_ids,
        np.array([[0.1, 0.9]]),
        np.array([[0.2, 0.1, 0.7, 0.0]]),
        ["bags", "footwear"],
    )[0]
    assert (explained.category, explained.probability) == ("footwear", 0.9)
    assert [w.word for w in explained.words] == ["red", "zorblax", "shoes"]
    assert [w.known for w in explained.words] == [True, False, True]
    assert [w.word for w in explained.top_words(2)] == ["shoes", "red"]
    assert explained.as_dict(top=1)["words"] == [
        {"position": 2, "word": "shoes", "weight": 0.7, "known": True}
    ]


def test_a_model_without_attention_cannot_be_explained() -> None:
    inputs = keras.Input(shape=(4,), dtype="int32")
    plain = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Embedding(10, 3)(inputs)))
    with pytest.raises(ValueError, match="no attention layer"):
        attention_explainer(plain)


FILLER = np.arange(2, 12)  # ten filler word ids, in every class
KEYWORDS = np.array([12, 13, 14])  # one per class: the word that decides it


def keyword_texts(rows: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Texts of 4-7 filler words with the class's keyword at a random position."""
    rng = np.random.default_rng(seed)
    token_ids = np.zeros((rows, length), dtype=np.int32)
    labels = rng.integers(0, len(KEYWORDS), rows)
    positions = np.zeros(rows, dtype=int)
    for row in range(rows):
        words = int(rng.integers(4, 8))
        token_ids[row, :words] = rng.choice(FILLER, words)
        positions[row] = rng.integers(0, words)
        token_ids[row, positions[row]] = KEYWORDS[labels[row]]
    return token_ids, labels, positions


@pytest.mark.slow
def test_the_deciding_word_gets_more_attention_than_the_filler() -> None:
    keras.utils.set_random_seed(7)
    length = 8
    model = small_model(vocabulary_size=16, sequence_length=length, embedding_dim=16, lstm_units=16)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    train_ids, train_labels, _ = keyword_texts(600, length, seed=1)
    model.fit({WORD_IDS: train_ids}, train_labels, epochs=8, batch_size=32, verbose=0)
    test_ids, test_labels, positions = keyword_texts(100, length, seed=2)
    probabilities, weights = attention_explainer(model)({WORD_IDS: test_ids})
    assert (probabilities.argmax(axis=1) == test_labels).mean() > 0.95
    keyword_weight = weights[np.arange(len(test_ids)), positions]
    filler = (test_ids != 0) & (test_ids < KEYWORDS.min())
    heaviest_filler = np.where(filler, weights, 0).max(axis=1)
    # On (nearly) every text the keyword outweighs every filler word, by a clear margin on average.
    assert (keyword_weight > heaviest_filler).mean() >= 0.9
    assert keyword_weight.mean() > 2 * heaviest_filler.mean()
