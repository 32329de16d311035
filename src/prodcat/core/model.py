"""The network: embeddings → bidirectional LSTM → attention → pooling → softmax.

Built with the functional API; the one custom layer is registered so ``.keras`` files load with
``safe_mode=True`` and no custom-object arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
from keras import ops

from prodcat.core.config import AttentionKind, PoolingKind, TrainConfig


@keras.saving.register_keras_serializable(package="prodcat")
class AttentionPooling(keras.layers.Layer):
    """Learned additive attention over time steps, returning the weighted averages.

    Unlike plain average pooling it can single out the few words that decide a category (the
    brand-free noun in "black leather ankle boots"); padded steps get zero weight. With several
    heads, each head learns its own weights and the heads' averages are concatenated, so the
    classifier can draw on several words at once rather than one average.
    """

    def __init__(self, units: int = 64, heads: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.heads = heads
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        features = input_shape[-1]
        self.projection = self.add_weight(
            name="projection", shape=(features, self.units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.context = self.add_weight(
            name="context", shape=(self.units, self.heads), initializer="glorot_uniform"
        )

    def head_weights(self, inputs, mask=None):
        """Weight of each time step for each head, ``(batch, time, heads)``, summing to one over
        the unmasked steps of each head."""
        hidden = ops.tanh(ops.matmul(inputs, self.projection) + self.bias)
        scores = ops.matmul(hidden, self.context)
        if mask is not None:
            scores = ops.where(ops.expand_dims(mask, axis=-1), scores, ops.full_like(scores, -1e9))
        return ops.softmax(scores, axis=1)

    def attention_weights(self, inputs, mask=None):
        """Weight of each time step, ``(batch, time)``: the heads' mean, itself summing to one."""
        return ops.mean(self.head_weights(inputs, mask), axis=-1)

    def call(self, inputs, mask=None):
        pooled = ops.einsum("bth,btf->bhf", self.head_weights(inputs, mask), inputs)
        return ops.reshape(pooled, (-1, self.heads * inputs.shape[-1]))

    def compute_mask(self, inputs, mask=None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], self.heads * input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "heads": self.heads}


@dataclass(frozen=True)
class Architecture:
    """What the network needs to know about the data and the params."""

    vocabulary_size: int
    sequence_length: int
    num_classes: int
    embedding_dim: int
    lstm_units: int
    dropout: float
    attention: AttentionKind
    pooling: PoolingKind
    attention_heads: int

    @classmethod
    def from_config(
        cls, config: TrainConfig, vocabulary_size: int, sequence_length: int, num_classes: int
    ) -> Architecture:
        """The prepared data's shape with the ``train`` section's choices."""
        return cls(
            vocabulary_size=vocabulary_size,
            sequence_length=sequence_length,
            num_classes=num_classes,
            embedding_dim=config.embedding_dim,
            lstm_units=config.lstm_units,
            dropout=config.dropout,
            attention=config.attention,
            pooling=config.pooling,
            attention_heads=config.attention_heads,
        )


def build_model(arch: Architecture) -> keras.Model:
    """The uncompiled classifier, taking padded token ids and returning class probabilities."""
    token_ids = keras.Input(shape=(arch.sequence_length,), dtype="int32", name="token_ids")
    embedded = keras.layers.Embedding(
        arch.vocabulary_size, arch.embedding_dim, mask_zero=True, name="embedding"
    )(token_ids)
    embedded = keras.layers.SpatialDropout1D(arch.dropout, name="embedding_dropout")(embedded)
    states = keras.layers.Bidirectional(
        keras.layers.LSTM(arch.lstm_units, return_sequences=True), name="bilstm"
    )(embedded)
    if arch.attention == "self":
        attended = keras.layers.Attention(use_scale=True, name="self_attention")([states, states])
    else:
        attended = keras.layers.AdditiveAttention(name="additive_attention")([states, states])
    if arch.pooling == "attention":
        # Each step is scored from its context *and* its own word: with the contextual states
        # alone, every step knows the whole title and the weights need not point at any word;
        # with the word beside it the pooling singles out the word that decides the category,
        # and its weights explain the prediction.
        word_and_context = keras.layers.Concatenate(name="word_and_context")([attended, embedded])
        pooled = AttentionPooling(
            units=arch.lstm_units, heads=arch.attention_heads, name="attention_pooling"
        )(word_and_context)
    else:  # masked: padding does not dilute the average
        pooled = keras.layers.GlobalAveragePooling1D(name="average_pooling")(attended)
    pooled = keras.layers.Dropout(arch.dropout, name="classifier_dropout")(pooled)
    probabilities = keras.layers.Dense(arch.num_classes, activation="softmax", name="category")(
        pooled
    )
    return keras.Model(token_ids, probabilities, name="prodcat")


def compile_model(model: keras.Model, learning_rate: float) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def load_model(path: Path) -> keras.Model:
    """Load a saved classifier without running any pickled code (``safe_mode=True``).

    Importing this module registers :class:`AttentionPooling`, which the loader needs.
    """
    return keras.saving.load_model(path, safe_mode=True, compile=False)
