from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from prodcat.core.config import TrainConfig
from prodcat.core.model import Architecture, AttentionPooling, build_model, load_model

VOCABULARY_SIZE = 30
SEQUENCE_LENGTH = 6
NUM_CLASSES = 3
TOKENS = np.array([[5, 6, 7, 0, 0, 0], [9, 8, 7, 6, 5, 4], [3, 0, 0, 0, 0, 0]], dtype=np.int32)
VARIANTS = [(a, p) for a in ("self", "additive") for p in ("attention", "average")]


def architecture(
    attention: str = "self", pooling: str = "attention", sequence_length: int = SEQUENCE_LENGTH
) -> Architecture:
    return Architecture(
        vocabulary_size=VOCABULARY_SIZE,
        sequence_length=sequence_length,
        num_classes=NUM_CLASSES,
        embedding_dim=8,
        lstm_units=8,
        dropout=0.1,
        attention=attention,
        pooling=pooling,
        attention_heads=3,
    )


def test_the_architecture_takes_the_data_shape_and_the_train_sections_choices() -> None:
    config = TrainConfig(
        embedding_dim=24,
        lstm_units=12,
        dropout=0.3,
        attention="additive",
        pooling="average",
        attention_heads=5,
    )
    built = Architecture.from_config(config, vocabulary_size=50, sequence_length=7, num_classes=4)
    assert built == Architecture(50, 7, 4, 24, 12, 0.3, "additive", "average", 5)


@pytest.mark.parametrize(("attention", "pooling"), VARIANTS)
def test_every_variant_gives_class_probabilities(attention: str, pooling: str) -> None:
    model = build_model(architecture(attention, pooling))
    probabilities = np.asarray(model(TOKENS, training=False))
    assert probabilities.shape == (len(TOKENS), NUM_CLASSES)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_network_is_embedding_bilstm_attention_pooling_softmax() -> None:
    model = build_model(architecture())
    layers = [type(layer).__name__ for layer in model.layers]
    assert layers[:2] == ["InputLayer", "Embedding"]
    assert (
        layers.index("Bidirectional") < layers.index("Attention") < layers.index("AttentionPooling")
    )
    assert layers[-1] == "Dense"
    assert model.input_shape == (None, SEQUENCE_LENGTH)


@pytest.mark.parametrize(("attention", "pooling"), VARIANTS)
def test_padding_does_not_change_the_prediction(attention: str, pooling: str) -> None:
    """The same weights give the same answer for a text padded to 6 steps or not padded at all."""
    padded_model = build_model(architecture(attention, pooling))
    short_model = build_model(architecture(attention, pooling, sequence_length=2))
    short_model.set_weights(padded_model.get_weights())
    padded = np.asarray(padded_model(np.array([[5, 6, 0, 0, 0, 0]]), training=False))
    short = np.asarray(short_model(np.array([[5, 6]]), training=False))
    np.testing.assert_allclose(padded, short, rtol=1e-5, atol=1e-6)


def test_the_padding_embedding_is_never_used() -> None:
    model = build_model(architecture())
    before = np.asarray(model(TOKENS, training=False))
    embedding = model.get_layer("embedding")
    (weights,) = embedding.get_weights()
    weights[0] = 10.0
    embedding.set_weights([weights])
    np.testing.assert_allclose(np.asarray(model(TOKENS, training=False)), before, rtol=1e-6)


@pytest.mark.parametrize("heads", [1, 3])
def test_attention_weights_are_zero_on_padding_and_sum_to_one(heads: int) -> None:
    layer = AttentionPooling(units=4, heads=heads)
    states = keras.random.normal((2, 5, 3), seed=1)
    mask = ops.convert_to_tensor(np.array([[True, True, False, False, False], [True] * 5]))
    layer.build(states.shape)
    per_head = np.asarray(layer.head_weights(states, mask))
    weights = np.asarray(layer.attention_weights(states, mask))
    assert per_head.shape == (2, 5, heads)
    assert weights.shape == (2, 5)
    for each in (per_head, weights):
        np.testing.assert_allclose(each.sum(axis=1), 1.0, rtol=1e-6)
        assert np.all(each[0, 2:] == 0)
        assert np.all(each[0, :2] > 0)
        assert np.all(each[1] > 0)


def test_attention_heads_weigh_the_words_differently() -> None:
    layer = AttentionPooling(units=4, heads=2)
    states = keras.random.normal((1, 5, 3), seed=3)
    layer.build(states.shape)
    per_head = np.asarray(layer.head_weights(states))
    assert not np.allclose(per_head[..., 0], per_head[..., 1])


@pytest.mark.parametrize("heads", [1, 3])
def test_attention_pooling_ignores_what_padded_steps_hold(heads: int) -> None:
    layer = AttentionPooling(units=4, heads=heads)
    states = keras.random.normal((1, 5, 3), seed=2)
    mask = ops.convert_to_tensor(np.array([[True, True, False, False, False]]))
    noisy = ops.concatenate([states[:, :2], 100 * ops.ones((1, 3, 3))], axis=1)
    pooled = np.asarray(layer(states, mask=mask))
    assert pooled.shape == (1, 3 * heads)
    np.testing.assert_allclose(pooled, np.asarray(layer(noisy, mask=mask)), rtol=1e-5)


def test_each_head_contributes_its_own_weighted_average_in_order() -> None:
    """The output is head 0's average, then head 1's: what the classifier's weights rely on."""
    layer = AttentionPooling(units=4, heads=2)
    states = keras.random.normal((2, 5, 3), seed=4)
    pooled = np.asarray(layer(states))
    per_head = np.asarray(layer.head_weights(states))
    values = np.asarray(states)
    expected = np.concatenate(
        [(per_head[..., [head]] * values).sum(axis=1) for head in range(2)], axis=1
    )
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)


def test_attention_pooling_config_round_trips() -> None:
    layer = AttentionPooling(units=7, heads=5, name="pool")
    clone = AttentionPooling.from_config(layer.get_config())
    assert (clone.units, clone.heads, clone.name) == (7, 5, "pool")
    assert clone.get_config() == layer.get_config()


def test_a_layer_saved_before_heads_existed_loads_as_one_head() -> None:
    layer = AttentionPooling.from_config({"name": "attention_pooling", "units": 4})
    layer.build((None, 5, 3))
    assert layer.heads == 1
    assert tuple(layer.context.shape) == (4, 1)


def test_attention_pooling_is_registered_for_safe_loading() -> None:
    assert keras.saving.get_registered_object("prodcat>AttentionPooling") is AttentionPooling


def test_save_load_predict_round_trip(tmp_path: Path) -> None:
    model = build_model(architecture())
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        np.asarray(loaded(TOKENS, training=False)),
        np.asarray(model(TOKENS, training=False)),
        rtol=1e-6,
    )
    assert isinstance(loaded.get_layer("attention_pooling"), AttentionPooling)
