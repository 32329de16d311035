from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from prodcat.core.config import TrainConfig
from prodcat.core.features import SUBWORD_IDS, WIDE_FEATURES, WORD_IDS, tensor_inputs
from prodcat.core.model import (
    DEEP_SCALE,
    WIDE_SCALE,
    Architecture,
    AttentionPooling,
    FastTextEmbedding,
    LogitScale,
    build_model,
    deep_path,
    input_names,
    load_model,
    set_scales,
    set_wide_weights,
    wide_path,
)
from tests.unit.tiny_model import LABELS, tiny_architecture, tiny_encoder, tiny_network

VOCABULARY_SIZE = 30
SEQUENCE_LENGTH = 6
NUM_CLASSES = 3
TOKENS = np.array([[5, 6, 7, 0, 0, 0], [9, 8, 7, 6, 5, 4], [3, 0, 0, 0, 0, 0]], dtype=np.int32)
WORDS = {WORD_IDS: TOKENS}
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


def test_the_architecture_takes_the_encoders_inputs_and_the_train_sections_choices() -> None:
    config = TrainConfig(
        embedding_dim=24,
        lstm_units=12,
        dropout=0.3,
        attention="additive",
        pooling="average",
        attention_heads=5,
        word_dropout=0.25,
        seed=3,
    )
    encoder = tiny_encoder()
    built = Architecture.from_config(config, encoder, num_classes=4)
    assert built == Architecture(
        30, 6, 4, 24, 12, 0.3, "additive", "average", 5, 64, 8, 0.25, encoder.wide.size, True, 3
    )
    words_only = Architecture.from_config(
        TrainConfig(wide=False), tiny_encoder(subwords=False), num_classes=4
    )
    assert (words_only.subword_buckets, words_only.wide_features) == (0, 0)


@pytest.mark.parametrize(("attention", "pooling"), VARIANTS)
def test_every_variant_gives_class_probabilities(attention: str, pooling: str) -> None:
    model = build_model(architecture(attention, pooling))
    probabilities = np.asarray(model(WORDS, training=False))
    assert probabilities.shape == (len(TOKENS), NUM_CLASSES)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_deep_path_is_embedding_bilstm_attention_pooling_dense() -> None:
    model = build_model(architecture())
    layers = [type(layer).__name__ for layer in model.layers]
    assert layers[:2] == ["InputLayer", "FastTextEmbedding"]
    assert (
        layers.index("Bidirectional") < layers.index("Attention") < layers.index("AttentionPooling")
    )
    assert layers[-3:] == ["Dense", "LogitScale", "Activation"]
    assert input_names(model) == [WORD_IDS]
    assert model.get_layer(WORD_IDS).batch_shape == (None, SEQUENCE_LENGTH)


def test_both_paths_take_named_inputs_and_add_their_scaled_logits() -> None:
    encoder = tiny_encoder()
    model = tiny_network(encoder)
    assert sorted(input_names(model)) == [SUBWORD_IDS, WIDE_FEATURES, WORD_IDS]
    inputs = tensor_inputs(encoder.encode(["red boots", "tote bag qwerty"]))
    set_scales(model, {WIDE_SCALE: 2.0, DEEP_SCALE: 0.5})
    wide = np.asarray(wide_path(model)(inputs[WIDE_FEATURES]))
    deep = np.asarray(deep_path(model)({k: inputs[k] for k in (WORD_IDS, SUBWORD_IDS)}))
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(2.0 * wide + 0.5 * deep))
    np.testing.assert_allclose(np.asarray(model(inputs)), expected, rtol=1e-5, atol=1e-6)


def test_the_wide_path_holds_the_linear_models_weights_frozen() -> None:
    encoder = tiny_encoder(subwords=False)
    model = tiny_network(encoder)
    rng = np.random.default_rng(0)
    coefficients = rng.normal(size=(len(LABELS), encoder.wide.size)).astype("float32")
    intercepts = rng.normal(size=len(LABELS)).astype("float32")
    set_wide_weights(model, coefficients, intercepts)
    features = encoder.wide.transform(["red leather boots"])
    margins = np.asarray(wide_path(model)(tensor_inputs({WIDE_FEATURES: features})[WIDE_FEATURES]))
    np.testing.assert_allclose(margins, features @ coefficients.T + intercepts, rtol=1e-5)
    frozen = {w.path for w in model.non_trainable_weights}
    assert {"wide_logits/kernel", "wide_logits/bias"} <= frozen
    assert {"wide_scale/scale", "deep_scale/scale"} <= frozen
    assert not any(w.path.startswith(("wide_", "deep_scale")) for w in model.trainable_weights)


@pytest.mark.parametrize(
    ("wide", "deep", "inputs"),
    [
        (True, False, [WIDE_FEATURES]),
        (False, True, [SUBWORD_IDS, WORD_IDS]),
        (True, True, [SUBWORD_IDS, WIDE_FEATURES, WORD_IDS]),
    ],
)
def test_each_mode_takes_its_own_inputs_and_gives_class_probabilities(
    wide: bool, deep: bool, inputs: list[str]
) -> None:
    encoder = tiny_encoder(wide=wide, deep=deep)
    model = tiny_network(encoder)
    encoded = encoder.encode(["red boots", "tote", "shirt shirt red"])
    assert sorted(encoded) == inputs == sorted(input_names(model))
    probabilities = np.asarray(model.predict(encoded, verbose=0))
    assert probabilities.shape == (3, len(LABELS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_a_network_needs_a_path() -> None:
    with pytest.raises(ValueError, match="needs a deep path, a wide path or both"):
        tiny_architecture(tiny_encoder(wide=False), deep=False)


@pytest.mark.parametrize(("attention", "pooling"), VARIANTS)
def test_padding_does_not_change_the_prediction(attention: str, pooling: str) -> None:
    """The same weights give the same answer for a text padded to 6 steps or not padded at all."""
    padded_model = build_model(architecture(attention, pooling))
    short_model = build_model(architecture(attention, pooling, sequence_length=2))
    short_model.set_weights(padded_model.get_weights())
    padded = np.asarray(padded_model({WORD_IDS: np.array([[5, 6, 0, 0, 0, 0]])}, training=False))
    short = np.asarray(short_model({WORD_IDS: np.array([[5, 6]])}, training=False))
    np.testing.assert_allclose(padded, short, rtol=1e-5, atol=1e-6)


def test_the_padding_embedding_is_never_used() -> None:
    model = build_model(architecture())
    before = np.asarray(model(WORDS, training=False))
    embedding = model.get_layer("embedding")
    (weights,) = embedding.get_weights()
    weights[0] = 10.0
    embedding.set_weights([weights])
    np.testing.assert_allclose(np.asarray(model(WORDS, training=False)), before, rtol=1e-6)


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


def test_save_load_predict_round_trip_with_every_input(tmp_path: Path) -> None:
    encoder = tiny_encoder()
    model = tiny_network(encoder)
    set_scales(model, {WIDE_SCALE: 1.7, DEEP_SCALE: 0.3})
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")  # safe_mode=True: no custom objects passed
    inputs = encoder.encode(["red leather boots", "zorblax tote", "shirt"])
    np.testing.assert_array_equal(
        loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0)
    )
    assert isinstance(loaded.get_layer("attention_pooling"), AttentionPooling)
    assert isinstance(loaded.get_layer("embedding"), FastTextEmbedding)
    assert float(loaded.get_layer(WIDE_SCALE).scale.numpy()) == pytest.approx(1.7)


@pytest.mark.parametrize("layer", [FastTextEmbedding, LogitScale, AttentionPooling])
def test_the_custom_layers_are_registered_for_safe_loading(layer: type) -> None:
    assert keras.saving.get_registered_object(f"prodcat>{layer.__name__}") is layer


def test_fasttext_embedding_config_round_trips() -> None:
    layer = FastTextEmbedding(30, 8, buckets=64, word_dropout=0.4, seed=5, name="embedding")
    clone = FastTextEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_a_word_is_its_embedding_plus_the_mean_of_its_pieces_padding_left_out() -> None:
    layer = FastTextEmbedding(10, 4, buckets=20)
    words = np.array([[3, 4, 0]], dtype=np.int32)
    pieces = np.array([[[5, 6, 0], [7, 0, 0], [0, 0, 0]]], dtype=np.int32)
    vectors = np.asarray(layer([words, pieces]))
    table, subword_table = (np.asarray(w) for w in layer.get_weights())
    np.testing.assert_allclose(
        vectors[0, 0], table[3] + (subword_table[5] + subword_table[6]) / 2, rtol=1e-6
    )
    np.testing.assert_allclose(vectors[0, 1], table[4] + subword_table[7], rtol=1e-6)
    np.testing.assert_allclose(vectors[0, 2], table[0], rtol=1e-6)  # no pieces: no mean
    mask = np.asarray(layer.compute_mask([words, pieces]))
    np.testing.assert_array_equal(mask, [[True, True, False]])


def test_padded_steps_stay_masked_through_the_deep_path() -> None:
    """What a padded step holds (its subword ids included) never reaches the prediction."""
    encoder = tiny_encoder(wide=False)
    model = tiny_network(encoder)
    inputs = encoder.encode(["red boots"])
    noisy = {name: value.copy() for name, value in inputs.items()}
    noisy[SUBWORD_IDS][0, 2:] = 9  # pieces under padding
    np.testing.assert_allclose(
        np.asarray(model(noisy)), np.asarray(model(inputs)), rtol=1e-6, atol=1e-7
    )


def test_word_dropout_turns_known_words_unknown_in_training_only() -> None:
    layer = FastTextEmbedding(10, 4, word_dropout=0.5, seed=1)
    words = np.full((1, 400), 5, dtype=np.int32)
    words[0, 200:] = 0
    trained = np.asarray(layer(words, training=True))
    table = np.asarray(layer.get_weights()[0])
    dropped = np.all(np.isclose(trained, table[1]), axis=-1)
    assert 0.35 < dropped[0, :200].mean() < 0.65  # about half the words became [UNK]
    assert not dropped[0, 200:].any()  # padding stays padding
    np.testing.assert_allclose(np.asarray(layer(words, training=False))[0, :200], table[[5] * 200])
