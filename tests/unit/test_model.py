from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from prodcat.model import Architecture, AttentionPooling, build_model, compile_model, load_model

TOKENS = np.array([[5, 6, 7, 0, 0, 0], [9, 8, 7, 6, 5, 4], [3, 0, 0, 0, 0, 0]], dtype=np.int32)


def architecture(attention: str = "self", pooling: str = "attention") -> Architecture:
    return Architecture(
        vocabulary_size=30,
        sequence_length=6,
        num_classes=3,
        embedding_dim=8,
        lstm_units=8,
        dropout=0.1,
        attention=attention,
        pooling=pooling,
    )


@pytest.mark.parametrize("attention", ["self", "additive"])
@pytest.mark.parametrize("pooling", ["attention", "average"])
def test_every_variant_gives_class_probabilities(attention: str, pooling: str) -> None:
    model = build_model(architecture(attention, pooling))
    probabilities = np.asarray(model(TOKENS, training=False))
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_network_is_embedding_bilstm_attention_pooling_softmax() -> None:
    layers = [type(layer).__name__ for layer in build_model(architecture()).layers]
    assert layers[:2] == ["InputLayer", "Embedding"]
    assert "Bidirectional" in layers
    assert (
        layers.index("Bidirectional") < layers.index("Attention") < layers.index("AttentionPooling")
    )
    assert layers[-1] == "Dense"


def test_attention_pooling_ignores_padding_and_weights_sum_to_one() -> None:
    layer = AttentionPooling(units=4)
    states = keras.random.normal((2, 5, 3), seed=1)
    mask = np.array([[True, True, False, False, False], [True] * 5])
    layer.build(states.shape)
    weights = np.asarray(layer.attention_weights(states, ops.convert_to_tensor(mask)))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(weights[0, 2:] == 0)
    padded_states = ops.concatenate([states[:1, :2], 100 * ops.ones((1, 3, 3))], axis=1)
    np.testing.assert_allclose(
        layer(states[:1], mask=ops.convert_to_tensor(mask[:1])),
        layer(padded_states, mask=ops.convert_to_tensor(mask[:1])),
        rtol=1e-5,
    )


def test_attention_pooling_config_round_trips() -> None:
    layer = AttentionPooling(units=7, name="pool")
    clone = AttentionPooling.from_config(layer.get_config())
    assert clone.units == 7
    assert clone.name == "pool"


def test_save_load_predict_round_trip(tmp_path: Path) -> None:
    model = compile_model(build_model(architecture()), learning_rate=0.01)
    model.fit(TOKENS, np.array([0, 1, 2]), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(
        loaded.predict(TOKENS, verbose=0), model.predict(TOKENS, verbose=0), rtol=1e-6
    )
