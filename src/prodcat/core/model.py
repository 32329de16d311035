"""The network: a wide path and a deep path whose scaled logits are added before the softmax.

``softmax(s_w * wide(x) + s_d * deep(x))``:

- the deep path reads word ids and the hashed character n-grams of each word
  (:class:`FastTextEmbedding`) → bidirectional LSTM → attention → attention pooling → Dense;
- the wide path is the baseline's linear model on its TF-IDF features: a frozen Dense layer
  holding the LinearSVC's weights, fed a sparse input;
- ``s_w`` and ``s_d`` (:class:`LogitScale`) are fitted on the validation split once both paths
  are trained (see ``core.training``).

Either path can be left out (``train.wide`` / ``train.deep``). Built with the functional API;
the custom layers are registered so ``.keras`` files load with ``safe_mode=True`` and no
custom-object arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
from keras import ops

from prodcat.core.config import AttentionKind, PoolingKind, TrainConfig
from prodcat.core.features import SUBWORD_IDS, WIDE_FEATURES, WORD_IDS, FeatureEncoder
from prodcat.core.text import OOV_ID

DEEP_LOGITS = "deep_logits"
WIDE_LOGITS = "wide_logits"
DEEP_SCALE = "deep_scale"
WIDE_SCALE = "wide_scale"


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


@keras.saving.register_keras_serializable(package="prodcat")
class FastTextEmbedding(keras.layers.Layer):
    """A word's vector: its word embedding plus the mean of the embeddings of its hashed
    character n-grams (fastText). An unseen word (a new brand, a typo) is no longer one shared
    unknown vector: it is the unknown word's vector plus what its pieces mean.

    Inputs ``word_ids (batch, time)`` and, with ``buckets`` > 0, ``[word_ids, subword_ids]``
    with ``subword_ids (batch, time, pieces)``, where subword id 0 is "none" and leaves the mean.
    The output is masked where ``word_ids`` is 0 (padding). With ``word_dropout``, training
    turns that share of the real words into the unknown word while keeping their n-grams, as an
    unseen word looks when serving.
    """

    def __init__(
        self,
        vocabulary_size: int,
        dim: int,
        buckets: int = 0,
        word_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.dim = dim
        self.buckets = buckets
        self.word_dropout = word_dropout
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if word_dropout else None
        self.supports_masking = True

    def build(self, input_shape: Any) -> None:
        self.word_embeddings = self.add_weight(
            name="word_embeddings", shape=(self.vocabulary_size, self.dim), initializer="uniform"
        )
        if self.buckets:
            self.subword_embeddings = self.add_weight(
                name="subword_embeddings", shape=(self.buckets + 1, self.dim), initializer="uniform"
            )

    def call(self, inputs: Any, training: bool = False) -> Any:
        word_ids, subword_ids = (inputs, None) if not self.buckets else inputs
        if training and self.word_dropout:
            dropped = keras.random.uniform(ops.shape(word_ids), seed=self.seed_generator)
            dropped = ops.logical_and(dropped < self.word_dropout, ops.greater(word_ids, OOV_ID))
            word_ids = ops.where(dropped, ops.full_like(word_ids, OOV_ID), word_ids)
        vectors = ops.take(self.word_embeddings, word_ids, axis=0)
        if self.buckets:
            vectors = vectors + self.subword_means(subword_ids)
        return vectors

    def subword_means(self, subword_ids: Any) -> Any:
        """The mean n-gram embedding of each position, ``(batch, time, dim)``; 0 ids left out.

        A batch's n-gram lists repeat a lot (padding, frequent words), so the mean is taken
        once per distinct list and gathered back: far fewer embedding rows are read, and
        back-propagated, than ``batch x time x pieces``.
        """
        import tensorflow as tf

        pieces = tf.shape(subword_ids)[-1]
        flat = tf.reshape(subword_ids, (-1, pieces))
        distinct, position = tf.raw_ops.UniqueV2(x=flat, axis=[0], out_idx=tf.int32)
        vectors = ops.take(self.subword_embeddings, distinct, axis=0)  # (distinct, pieces, dim)
        present = ops.expand_dims(ops.cast(ops.greater(distinct, 0), vectors.dtype), -1)
        means = ops.sum(vectors * present, axis=1) / ops.maximum(ops.sum(present, axis=1), 1.0)
        gathered = ops.take(means, position, axis=0)
        return tf.reshape(gathered, tf.concat([tf.shape(subword_ids)[:-1], [self.dim]], 0))

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        word_ids = inputs if not self.buckets else inputs[0]
        return ops.not_equal(word_ids, 0)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        word_shape = input_shape if not self.buckets else input_shape[0]
        return (*word_shape, self.dim)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "dim": self.dim,
            "buckets": self.buckets,
            "word_dropout": self.word_dropout,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="prodcat")
class LogitScale(keras.layers.Layer):
    """A path's logits times one positive scalar, fitted after training (not by gradients):
    how much the fused prediction trusts that path."""

    def __init__(self, initial: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.initial = float(initial)

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(
            name="scale",
            shape=(),
            initializer=keras.initializers.Constant(self.initial),
            trainable=False,
        )

    def call(self, inputs: Any) -> Any:
        return inputs * self.scale

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "initial": self.initial}


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
    subword_buckets: int = 0  # 0: word embeddings alone
    subwords_per_word: int = 0
    word_dropout: float = 0.0
    wide_features: int = 0  # width of the wide path's sparse input; 0: no wide path
    deep: bool = True
    seed: int | None = None  # of the word dropout

    def __post_init__(self) -> None:
        if not self.deep and not self.wide_features:
            raise ValueError("a network needs a deep path, a wide path or both")

    @classmethod
    def from_config(
        cls, config: TrainConfig, encoder: FeatureEncoder, num_classes: int
    ) -> Architecture:
        """The ``train`` section's choices with the inputs ``encoder`` gives."""
        subwords = encoder.subwords
        with_subwords = subwords is not None and subwords.enabled
        return cls(
            vocabulary_size=len(encoder.vectorizer.index),
            sequence_length=encoder.sequence_length,
            num_classes=num_classes,
            embedding_dim=config.embedding_dim,
            lstm_units=config.lstm_units,
            dropout=config.dropout,
            attention=config.attention,
            pooling=config.pooling,
            attention_heads=config.attention_heads,
            subword_buckets=subwords.buckets if with_subwords else 0,
            subwords_per_word=subwords.per_word if with_subwords else 0,
            word_dropout=config.word_dropout,
            wide_features=encoder.wide.size if config.wide and encoder.wide else 0,
            deep=config.deep,
            seed=config.seed,
        )


def model_inputs(arch: Architecture) -> dict[str, keras.KerasTensor]:
    """The named inputs the network takes (see ``core.features``)."""
    inputs = {}
    if arch.deep:
        inputs[WORD_IDS] = keras.Input(shape=(arch.sequence_length,), dtype="int32", name=WORD_IDS)
        if arch.subword_buckets:
            inputs[SUBWORD_IDS] = keras.Input(
                shape=(arch.sequence_length, arch.subwords_per_word),
                dtype="int32",
                name=SUBWORD_IDS,
            )
    if arch.wide_features:
        inputs[WIDE_FEATURES] = keras.Input(
            shape=(arch.wide_features,), sparse=True, name=WIDE_FEATURES
        )
    return inputs


def deep_logits(arch: Architecture, inputs: dict[str, keras.KerasTensor]) -> keras.KerasTensor:
    """Embeddings → BiLSTM → attention → pooling → Dense: the deep path's unscaled logits."""
    words = inputs[WORD_IDS]
    embedding = FastTextEmbedding(
        arch.vocabulary_size,
        arch.embedding_dim,
        buckets=arch.subword_buckets,
        word_dropout=arch.word_dropout,
        seed=arch.seed,
        name="embedding",
    )
    embedded = embedding([words, inputs[SUBWORD_IDS]] if arch.subword_buckets else words)
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
    return keras.layers.Dense(arch.num_classes, name=DEEP_LOGITS)(pooled)


def build_model(arch: Architecture) -> keras.Model:
    """The uncompiled classifier: named inputs in, class probabilities out.

    The wide path's Dense layer is frozen: it holds the linear model's weights (see
    :func:`set_wide_weights`), fitted by the exact solver rather than by gradients.
    """
    inputs = model_inputs(arch)
    paths = []
    if arch.wide_features:
        margins = keras.layers.Dense(arch.num_classes, name=WIDE_LOGITS, trainable=False)(
            inputs[WIDE_FEATURES]
        )
        paths.append(LogitScale(name=WIDE_SCALE)(margins))
    if arch.deep:
        paths.append(LogitScale(name=DEEP_SCALE)(deep_logits(arch, inputs)))
    logits = keras.layers.Add(name="logits")(paths) if len(paths) > 1 else paths[0]
    probabilities = keras.layers.Activation("softmax", name="category")(logits)
    return keras.Model(inputs, probabilities, name="prodcat")


def deep_path(model: keras.Model) -> keras.Model:
    """The deep path alone, word inputs to unscaled logits, sharing the model's layers: what
    training fits before the paths are fused."""
    names = (WORD_IDS, SUBWORD_IDS)
    inputs = {name: tensor for name, tensor in _named_inputs(model).items() if name in names}
    return keras.Model(inputs, model.get_layer(DEEP_LOGITS).output, name="prodcat_deep")


def wide_path(model: keras.Model) -> keras.Model:
    """The wide path alone: TF-IDF features to the linear model's margins."""
    feature = _named_inputs(model)[WIDE_FEATURES]
    return keras.Model(feature, model.get_layer(WIDE_LOGITS).output, name="prodcat_wide")


def has_path(model: keras.Model, name: str) -> bool:
    """Whether ``model`` has the layer ``name`` (e.g. :data:`DEEP_LOGITS`)."""
    return any(layer.name == name for layer in model.layers)


def set_wide_weights(model: keras.Model, coefficients: Any, intercepts: Any) -> None:
    """Load the linear model (``coef_`` of shape classes x features, ``intercept_``) into the
    wide path's frozen Dense layer."""
    model.get_layer(WIDE_LOGITS).set_weights([coefficients.T, intercepts])


def set_scales(model: keras.Model, scales: dict[str, float]) -> None:
    """The fitted scale of each path (:data:`WIDE_SCALE`, :data:`DEEP_SCALE`)."""
    for name, value in scales.items():
        model.get_layer(name).scale.assign(value)


def input_names(model: keras.Model) -> list[str]:
    return list(_named_inputs(model))


def _named_inputs(model: keras.Model) -> dict[str, keras.KerasTensor]:
    return {tensor.name: tensor for tensor in keras.tree.flatten(model.inputs)}


def load_model(path: Path) -> keras.Model:
    """Load a saved classifier without running any pickled code (``safe_mode=True``).

    Importing this module registers the custom layers, which the loader needs.
    """
    return keras.saving.load_model(path, safe_mode=True, compile=False)
