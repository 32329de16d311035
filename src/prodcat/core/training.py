"""Fitting the network: seeded batches streamed from memory-mapped arrays, early stopping, the
learning-rate plateau, and the training speed of each epoch."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from prodcat.core.config import TrainConfig
from prodcat.core.distribution import keras_multi_worker_fixes, scaled_hyperparameters
from prodcat.core.model import Architecture, build_model, compile_model

logger = logging.getLogger(__name__)


def streamed_batches(
    arrays: tuple[np.ndarray, np.ndarray], batch_size: int, seed: int, shuffle: bool
) -> tf.data.Dataset:
    """Batches gathered from the split's arrays as training asks for them.

    With memory-mapped arrays the padded token ids stay on disk and are read one batch at a time,
    never copied whole. Shuffling permutes the row numbers as one tensor (8 bytes a row), drawn
    again for each pass from a seeded stream; a ``shuffle`` buffer over the rows would hold each
    row number as its own element, about 165 bytes a row. Under a strategy each replica gets its
    slice of each global batch (sharding by DATA, since the rows are not in files to split);
    every worker draws the same permutation, so the slices are disjoint.
    """
    token_ids, label_ids = arrays
    width = token_ids.shape[1]
    rows = tf.range(len(label_ids), dtype=tf.int64)

    def gather(batch_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ordered = np.sort(batch_rows)  # reads in file order; the order in a batch does not matter
        return np.asarray(token_ids[ordered]), np.asarray(label_ids[ordered])

    def read_batch(batch_rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        tokens, labels = tf.numpy_function(
            gather, [batch_rows], (tf.as_dtype(token_ids.dtype), tf.as_dtype(label_ids.dtype))
        )
        return tf.ensure_shape(tokens, (None, width)), tf.ensure_shape(labels, (None,))

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
    """Per-class loss weights, so rare categories count as much as common ones if asked."""
    if weighting == "none":
        return None
    classes = np.unique(label_ids)
    weights = compute_class_weight("balanced", classes=classes, y=label_ids)
    return {int(label): float(weight) for label, weight in zip(classes, weights, strict=True)}


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
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    callbacks: list[keras.callbacks.Callback],
    strategy: tf.distribute.Strategy | None = None,
) -> pd.DataFrame:
    """Train with early stopping on validation loss, and the learning rate reduced on its
    plateaus; return the per-epoch history.

    Seeded ``tf.data`` batches of the global batch size stream the arrays to the model (and,
    under a strategy, to its replicas); each epoch's logs gain its training throughput.
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
    history = model.fit(
        streamed_batches(train, global_batch, config.seed, shuffle=True),
        class_weight=class_weights(np.asarray(train[1]), config.class_weight),
        validation_data=streamed_batches(val, global_batch, config.seed, shuffle=False),
        epochs=config.epochs,
        shuffle=False,  # the batches are shuffled by streamed_batches
        callbacks=[stopping, TrainingThroughput(len(train[1])), *callbacks],
        verbose=2,
    )
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", range(1, len(frame) + 1))
    return frame


@dataclass(frozen=True)
class Trained:
    """A fitted network, its per-epoch history and how fast it learned."""

    model: keras.Model
    history: pd.DataFrame
    fit_seconds: float
    rows: int

    @property
    def samples_per_second(self) -> float:
        """Steady speed of the training pass (see :func:`steady_throughput`)."""
        return steady_throughput(self.history["samples_per_second"])

    @property
    def fit_samples_per_second(self) -> float:
        """Every epoch over the whole ``fit``, validation and tracing included."""
        return self.rows * len(self.history) / self.fit_seconds

    @property
    def best_epoch(self) -> pd.Series:
        return self.history.loc[self.history["val_loss"].idxmin()]


def train_network(
    arch: Architecture,
    config: TrainConfig,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    strategy: tf.distribute.Strategy,
    callbacks: list[keras.callbacks.Callback],
) -> Trained:
    """Build, compile and fit the network under ``strategy`` (TensorFlow's default strategy for
    one process); the learning rate grows with the replicas in sync."""
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
        model = compile_model(build_model(arch), learning_rate)
    distributed = None if config.distribution == "none" else strategy
    sample = (np.asarray(train[0][:1]), np.asarray(train[1][:1]))
    started = time.perf_counter()
    with keras_multi_worker_fixes(model, strategy, sample):
        history = fit(model, train, val, config, callbacks, strategy=distributed)
    return Trained(model, history, time.perf_counter() - started, len(train[1]))
