"""Fitting the network: the wide path first (the baseline's weights, frozen), then the deep path
alone (seeded batches streamed from memory-mapped arrays, early stopping, the learning-rate
plateau, the training speed of each epoch), then the two paths' scales on the validation split.

Late fusion: trained together, the deep path would learn the residual of a linear model that
already fits the training rows, and add little on titles it never saw; trained alone, it makes
its own mistakes, and the fitted scales weigh the two where they disagree.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.utils.class_weight import compute_class_weight

from prodcat.core.config import TrainConfig
from prodcat.core.distribution import keras_multi_worker_fixes, scaled_hyperparameters
from prodcat.core.features import WIDE_FEATURES, SplitData
from prodcat.core.model import (
    DEEP_LOGITS,
    DEEP_SCALE,
    WIDE_LOGITS,
    WIDE_SCALE,
    Architecture,
    build_model,
    deep_path,
    has_path,
    input_names,
    set_scales,
    set_wide_weights,
)

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "samples_per_second")


def streamed_batches(
    inputs: Mapping[str, np.ndarray],
    label_ids: np.ndarray,
    batch_size: int,
    seed: int,
    shuffle: bool,
) -> tf.data.Dataset:
    """Batches ``({name: rows}, labels)`` gathered from the split's arrays as training asks.

    With memory-mapped arrays the ids stay on disk and are read one batch at a time, never
    copied whole. Shuffling permutes the row numbers as one tensor (8 bytes a row), drawn
    again for each pass from a seeded stream; a ``shuffle`` buffer over the rows would hold each
    row number as its own element, about 165 bytes a row. Under a strategy each replica gets its
    slice of each global batch (sharding by DATA, since the rows are not in files to split);
    every worker draws the same permutation, so the slices are disjoint.
    """
    names = list(inputs)
    arrays = [inputs[name] for name in names]
    rows = tf.range(len(label_ids), dtype=tf.int64)

    def gather(batch_rows: np.ndarray) -> tuple[np.ndarray, ...]:
        ordered = np.sort(batch_rows)  # reads in file order; the order in a batch does not matter
        return (*(np.asarray(array[ordered]) for array in arrays), np.asarray(label_ids[ordered]))

    def read_batch(batch_rows: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        dtypes = [tf.as_dtype(array.dtype) for array in (*arrays, label_ids)]
        *columns, labels = tf.numpy_function(gather, [batch_rows], dtypes)
        features = {
            name: tf.ensure_shape(column, (None, *array.shape[1:]))
            for name, column, array in zip(names, columns, arrays, strict=True)
        }
        return features, tf.ensure_shape(labels, (None,))

    def permuted(pass_seed: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(rows, seed=tf.stack([pass_seed, seed]))
        return tf.data.Dataset.from_tensor_slices(order)

    if shuffle:
        pass_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        dataset = pass_seeds.flat_map(permuted)
    else:
        dataset = tf.data.Dataset.from_tensor_slices(rows)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # The permuted stream's length is unknown to tf.data: stating it lets Keras count the steps
    # of an epoch instead of running each epoch into the end of its data.
    batches = dataset.batch(batch_size).apply(
        tf.data.experimental.assert_cardinality(math.ceil(len(label_ids) / batch_size))
    )
    return batches.map(read_batch).prefetch(tf.data.AUTOTUNE).with_options(options)


def set_op_threads(intra_op: int, inter_op: int) -> None:
    """TensorFlow's thread pools; only possible before its runtime starts (0: its own choice)."""
    tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def seed_everything(seed: int) -> None:
    """Same seed, same weights: Python, NumPy and TensorFlow seeds plus deterministic kernels.

    Op determinism holds under the strategies too (collective all-reduce included): two runs of
    the same cluster give the same weights, and every worker ends with the chief's weights.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def weights_fingerprint(model: keras.Model) -> str:
    """SHA-256 of the weights alone (a ``.keras`` file also holds a save timestamp)."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


def class_weights(label_ids: np.ndarray, weighting: str) -> dict[int, float] | None:
    """Per-class loss weights (``train.class_weight``): None for 'none'; 'balanced' inversely
    to each class's rows; 'sqrt' inversely to their square root, scaled so that the rows'
    weights average 1 (the loss keeps its scale, and the learning rate its meaning)."""
    if weighting == "none":
        return None
    classes = np.unique(label_ids)
    if weighting == "sqrt":
        counts = np.bincount(label_ids)[classes].astype(np.float64)
        weights = 1 / np.sqrt(counts)
        weights /= np.dot(counts, weights) / counts.sum()
    else:
        weights = compute_class_weight("balanced", classes=classes, y=label_ids)
    return {int(label): float(weight) for label, weight in zip(classes, weights, strict=True)}


@keras.saving.register_keras_serializable(package="prodcat")
class LazyAdam(keras.optimizers.Adam):
    """Adam that, for a sparse gradient (an embedding lookup's), updates only the rows the batch
    used, their moments included; dense gradients get Adam's own update.

    Keras' Adam turns the sparse gradient of the 131k-row subword table into a dense update of
    every row at every step, most of the step's time; here a step touches the few thousand rows
    a batch reads. Rows a batch leaves out keep their moments instead of decaying them, as
    TensorFlow Addons' LazyAdam did. Works under ``tf.distribute``: the all-reduced gradient of
    an embedding stays sparse, and each replica's copy gets the same row updates.
    """

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if not isinstance(gradient, tf.IndexedSlices) or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        alpha = (
            tf.cast(learning_rate, dtype)
            * tf.sqrt(1 - tf.pow(beta_2, step))
            / (1 - tf.pow(beta_1, step))
        )
        rows, position = tf.unique(gradient.indices)  # a row read twice has one update
        values = tf.math.unsorted_segment_sum(
            tf.cast(gradient.values, dtype), position, tf.shape(rows)[0]
        )
        index = self._get_variable_index(variable)
        momentum, velocity = self._momentums[index], self._velocities[index]
        momentum_rows = beta_1 * tf.gather(momentum.value, rows) + (1 - beta_1) * values
        velocity_rows = beta_2 * tf.gather(velocity.value, rows) + (1 - beta_2) * values**2
        self.assign(momentum, tf.IndexedSlices(momentum_rows, rows))
        self.assign(velocity, tf.IndexedSlices(velocity_rows, rows))
        change = alpha * momentum_rows / (tf.sqrt(velocity_rows) + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(change, rows))


def compile_deep(model: keras.Model, learning_rate: float) -> keras.Model:
    """The deep path's training set-up: cross-entropy on its logits, :class:`LazyAdam`."""
    model.compile(
        optimizer=LazyAdam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class TrainingThroughput(keras.callbacks.Callback):
    """Adds ``samples_per_second`` to each epoch's logs: the speed of its training pass alone.

    The clock stops where validation starts, so the figure is the speed of learning, not of
    scoring the validation split; the first epoch also pays for tracing the training step.
    """

    def __init__(self, samples_per_epoch: int, clock: Callable[[], float] = time.perf_counter):
        super().__init__()
        self.samples_per_epoch = samples_per_epoch
        self.clock = clock
        self.started = 0.0
        self.training_seconds: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = self.clock()
        self.training_seconds = None

    def on_test_begin(self, logs: dict | None = None) -> None:
        if self.training_seconds is None:  # validation starts: the training pass is over
            self.training_seconds = self.clock() - self.started

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = self.training_seconds
        if seconds is None:  # no validation this epoch
            seconds = self.clock() - self.started
        if logs is not None:
            logs["samples_per_second"] = self.samples_per_epoch / seconds


def steady_throughput(per_epoch: pd.Series) -> float:
    """Median training speed over the epochs after the first, which traces the training step."""
    steady = per_epoch.iloc[1:] if len(per_epoch) > 1 else per_epoch
    return float(steady.median())


def fit(
    model: keras.Model,
    train: SplitData,
    val: SplitData,
    config: TrainConfig,
    callbacks: list[keras.callbacks.Callback],
    strategy: tf.distribute.Strategy | None = None,
) -> pd.DataFrame:
    """Train with early stopping on validation loss, and the learning rate reduced on its
    plateaus; return the per-epoch history.

    Seeded ``tf.data`` batches of the global batch size stream the arrays ``model`` takes to it
    (and, under a strategy, to its replicas); each epoch's logs gain its training throughput.
    """
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True
    )
    if config.lr_plateau_factor < 1:
        callbacks = [
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss",
                factor=config.lr_plateau_factor,
                patience=config.lr_plateau_patience,
            ),
            *callbacks,
        ]
    replicas = 1 if strategy is None else strategy.num_replicas_in_sync
    global_batch, _ = scaled_hyperparameters(config.batch_size, config.learning_rate, replicas)
    names = input_names(model)

    def batches(split: SplitData, shuffle: bool) -> tf.data.Dataset:
        inputs = {name: split.inputs[name] for name in names}
        return streamed_batches(inputs, split.labels, global_batch, config.seed, shuffle)

    history = model.fit(
        batches(train, shuffle=True),
        class_weight=class_weights(np.asarray(train.labels), config.class_weight),
        validation_data=batches(val, shuffle=False),
        epochs=config.epochs,
        shuffle=False,  # the batches are shuffled by streamed_batches
        callbacks=[stopping, TrainingThroughput(len(train)), *callbacks],
        verbose=2,
    )
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", range(1, len(frame) + 1))
    return frame


def path_logits(
    model: keras.Model, inputs: Mapping[str, Any], batch_size: int = 1024
) -> dict[str, np.ndarray]:
    """Each path's unscaled logits, by the name of its scale (:data:`WIDE_SCALE`,
    :data:`DEEP_SCALE`), computed in this process alone (no collective op under a strategy)."""
    logits = {}
    if has_path(model, WIDE_LOGITS):
        kernel, bias = model.get_layer(WIDE_LOGITS).get_weights()
        logits[WIDE_SCALE] = np.asarray(inputs[WIDE_FEATURES] @ kernel) + bias
    if has_path(model, DEEP_LOGITS):
        deep = deep_path(model)
        names = input_names(deep)
        rows = len(inputs[names[0]])
        logits[DEEP_SCALE] = np.concatenate(
            [
                keras.ops.convert_to_numpy(
                    deep(
                        {
                            name: np.asarray(inputs[name][start : start + batch_size])
                            for name in names
                        },
                        training=False,
                    )
                )
                for start in range(0, rows, batch_size)
            ]
        )
    return logits


def fit_scales(
    logits: Mapping[str, np.ndarray], label_ids: np.ndarray
) -> tuple[dict[str, float], float]:
    """The positive scale of each path's logits minimising the log loss of the softmax of their
    sum on these rows (Nelder-Mead on the log scales), and that log loss; 1 each when every row
    is already right."""
    names = list(logits)
    values = [np.asarray(logits[name], dtype=np.float64) for name in names]
    rows = np.arange(len(label_ids))

    def log_loss(log_scales: np.ndarray) -> float:
        fused = sum(np.exp(s) * v for s, v in zip(log_scales, values, strict=True))
        return float(-log_softmax(fused, axis=1)[rows, label_ids].mean())

    if (sum(values).argmax(axis=1) == np.asarray(label_ids)).all():
        # Every row right with the paths as they are: larger scales lower the log loss without
        # end, so these rows cannot weigh the paths. Keep them as trained.
        logger.info("every validation row is right: path scales left at 1")
        return dict.fromkeys(names, 1.0), log_loss(np.zeros(len(names)))

    found = minimize(log_loss, x0=np.zeros(len(names)), method="Nelder-Mead")
    return {name: float(np.exp(s)) for name, s in zip(names, found.x, strict=True)}, float(
        found.fun
    )


@dataclass(frozen=True)
class Trained:
    """A fitted network, the deep path's per-epoch history, how fast it learned, and the
    fitted scale of each path with the fused model's validation log loss."""

    model: keras.Model
    history: pd.DataFrame
    fit_seconds: float
    rows: int
    scales: dict[str, float] = field(default_factory=dict)
    val_loss: float = float("nan")

    @property
    def samples_per_second(self) -> float:
        """Steady speed of the training pass (see :func:`steady_throughput`)."""
        if self.history.empty:
            return float("nan")
        return steady_throughput(self.history["samples_per_second"])

    @property
    def fit_samples_per_second(self) -> float:
        """Every epoch over the whole ``fit``, validation and tracing included."""
        return self.rows * len(self.history) / self.fit_seconds

    @property
    def best_epoch(self) -> pd.Series:
        return self.history.loc[self.history["val_loss"].idxmin()]

    def summary(self) -> dict[str, float]:
        """The run's summary metrics (those of the deep path's epochs only if it has any). The
        fused model's validation loss is ``fused_val_loss``: ``val_loss`` is the deep path's
        per-epoch curve."""
        figures = {
            "fused_val_loss": round(self.val_loss, 6),
            **{k: round(v, 6) for k, v in self.scales.items()},
        }
        if not self.history.empty:
            figures.update(
                best_val_loss=float(self.best_epoch["val_loss"]),
                epochs_run=len(self.history),
                train_samples_per_second=round(self.samples_per_second, 1),
                fit_samples_per_second=round(self.fit_samples_per_second, 1),
            )
        return figures


def train_network(
    arch: Architecture,
    config: TrainConfig,
    train: SplitData,
    val: SplitData,
    strategy: tf.distribute.Strategy,
    callbacks: list[keras.callbacks.Callback],
    wide_weights: tuple[np.ndarray, np.ndarray] | None = None,
) -> Trained:
    """Build the network under ``strategy`` (TensorFlow's default strategy for one process),
    load the wide path's weights, fit the deep path alone (the learning rate grows with the
    replicas in sync), then fit the paths' scales on ``val``."""
    replicas = strategy.num_replicas_in_sync
    batch, learning_rate = scaled_hyperparameters(config.batch_size, config.learning_rate, replicas)
    logger.info(
        "distribution %s: %d replica(s) in sync; global batch %d, learning rate %g",
        config.distribution,
        replicas,
        batch,
        learning_rate,
    )
    seed_everything(config.seed)
    with strategy.scope():
        model = build_model(arch)
        if arch.wide_features:
            if wide_weights is None:
                raise ValueError("a wide path needs the linear model's weights")
            set_wide_weights(model, *wide_weights)
        deep = compile_deep(deep_path(model), learning_rate) if arch.deep else None
    started = time.perf_counter()
    history = pd.DataFrame(columns=list(HISTORY_COLUMNS))
    if deep is not None:
        distributed = None if config.distribution == "none" else strategy
        sample = (
            {name: np.asarray(train.inputs[name][:1]) for name in input_names(deep)},
            np.asarray(train.labels[:1]),
        )
        with keras_multi_worker_fixes(deep, strategy, sample):
            history = fit(deep, train, val, config, callbacks, strategy=distributed)
    scales, val_loss = fit_scales(path_logits(model, val.inputs), np.asarray(val.labels))
    set_scales(model, scales)
    logger.info("path scales %s: fused validation log loss %.4f", scales, val_loss)
    seconds = time.perf_counter() - started
    return Trained(model, history, seconds, len(train), scales, val_loss)
