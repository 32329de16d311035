"""Stage ``train``: fit the attention classifier, log the run to MLflow, save a ``.keras`` model.

``train.distribution`` picks a ``tf.distribute`` strategy: ``none`` (the default strategy, one
process), ``mirrored`` (this machine's devices) or ``multi_worker`` (the machines ``TF_CONFIG``
names, each running this stage: ``prodcat train`` on the chief, ``prodcat train-worker`` on the
others). ``train.batch_size`` and ``train.learning_rate`` are per replica; the global batch and the
learning rate grow with the replica count (linear scaling rule). Only the chief talks to MLflow and
writes the stage's outputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from prodcat import layout
from prodcat.config import Distribution, TrainConfig, load_section
from prodcat.data import read_encoded
from prodcat.errors import UserError
from prodcat.files import atomic_path, read_json, write_json
from prodcat.model import Architecture, build_model, compile_model
from prodcat.text import read_labels, read_vocabulary
from prodcat.tracking import flat_params, git_commit, training_run

logger = logging.getLogger(__name__)

TF_CONFIG = "TF_CONFIG"


def cluster_task(tf_config: str | None) -> tuple[str, int] | None:
    """``(task type, index)`` of this process in a ``TF_CONFIG`` JSON string; None if unset."""
    if not tf_config:
        return None
    try:
        parsed = json.loads(tf_config)
        task = parsed["task"]
        task_type, index = str(task["type"]), int(task["index"])
        cluster = parsed["cluster"]
        members = cluster[task_type]
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(
            f"{TF_CONFIG} is not a usable cluster description ({error!r}); expected "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'
        ) from None
    if not 0 <= index < len(members):
        raise UserError(f"{TF_CONFIG} task {task_type} {index} is not in the cluster's {task_type}")
    return task_type, index


def is_chief(distribution: Distribution, tf_config: str | None) -> bool:
    """The chief logs to MLflow and writes the outputs: task ``chief``, else ``worker`` 0.

    Without a multi-worker cluster there is one process, and it is the chief.
    """
    if distribution != "multi_worker":
        return True
    task = cluster_task(tf_config)
    if task is None:
        return True
    task_type, index = task
    has_chief = "chief" in json.loads(tf_config or "{}").get("cluster", {})
    return task_type == "chief" or (task_type == "worker" and index == 0 and not has_chief)


def check_role(distribution: Distribution, tf_config: str | None, worker: bool) -> None:
    """Refuse a launch that cannot work: ``prodcat train`` on a non-chief task, and so on."""
    if worker and distribution != "multi_worker":
        raise UserError(
            f"train.distribution is '{distribution}': `prodcat train-worker` needs 'multi_worker'"
        )
    if distribution != "multi_worker":
        return
    choose_strategy(distribution, tf_config)  # refuses a missing TF_CONFIG
    chief = is_chief(distribution, tf_config)
    if worker and chief:
        raise UserError(
            f"{TF_CONFIG} makes this task the chief: run `prodcat train` (or `dvc repro`) here"
        )
    if not worker and not chief:
        raise UserError(
            f"{TF_CONFIG} makes this task a non-chief worker: run `prodcat train-worker` here"
        )


def choose_strategy(
    distribution: Distribution, tf_config: str | None
) -> Callable[[], tf.distribute.Strategy]:
    """What creates the ``tf.distribute`` strategy for ``train.distribution``.

    ``none`` is TensorFlow's default strategy, so the single-process path is unchanged;
    ``multi_worker`` reads the cluster from ``TF_CONFIG`` and refuses to start without one.
    """
    if distribution == "mirrored":
        return tf.distribute.MirroredStrategy
    if distribution == "multi_worker":
        if cluster_task(tf_config) is None:
            raise UserError(
                f"train.distribution is 'multi_worker' but {TF_CONFIG} is not set; give every "
                'machine e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                '"task": {"type": "worker", "index": 0}} (see the README)'
            )
        return tf.distribute.MultiWorkerMirroredStrategy
    return tf.distribute.get_strategy


def make_strategy(distribution: Distribution) -> tf.distribute.Strategy:
    """The strategy itself; call it before any other TF op.

    ``MultiWorkerMirroredStrategy`` configures the collective ops of the eager context, which
    TensorFlow allows only before the context is initialised.
    """
    return choose_strategy(distribution, os.environ.get(TF_CONFIG))()


def scaled_hyperparameters(
    batch_size: int, learning_rate: float, replicas: int
) -> tuple[int, float]:
    """Global batch and learning rate: both grow linearly with the replicas in sync."""
    return batch_size * replicas, learning_rate * replicas


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
    return (
        dataset.batch(batch_size).map(read_batch).prefetch(tf.data.AUTOTUNE).with_options(options)
    )


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
        callbacks=[stopping, TrainingThroughput(len(train[1])), *callbacks],
        verbose=2,
    )
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", range(1, len(frame) + 1))
    return frame


@contextlib.contextmanager
def keras_multi_worker_fixes(
    model: keras.Model, strategy: tf.distribute.Strategy, sample: tuple[np.ndarray, np.ndarray]
) -> Iterator[None]:
    """Let ``Model.fit`` run under a multi-worker ``MultiWorkerMirroredStrategy`` in Keras 3.

    Keras 3 (up to 3.15 at least, keras-team/keras#20585) breaks there in two places, both on the
    way to the training step rather than in it: before the first epoch ``fit`` reduces a whole
    ``(x, y)`` batch with ``strategy.reduce`` just to learn its shapes, which collective
    all-reduce rejects for a nested value; and each step averages the scalar logs (loss, metrics)
    across workers with ``strategy.reduce("MEAN", value, axis=0)``, which fails for a scalar.
    Within this block the model builds its state from one local ``sample`` batch instead, and
    scalar logs are averaged with ``axis=None``. Gradients, variables and data still go through
    ``tf.distribute`` untouched; outside a multi-worker cluster nothing changes.
    """
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if not tf_trainer._collective_all_reduce_multi_worker(strategy):
        yield
        return
    original_reduce = tf_trainer.reduce_per_replica
    original_build = model._maybe_symbolic_build

    def reduce_per_replica(values: Any, strategy: tf.distribute.Strategy, reduction: str) -> Any:
        def reduce(value: Any) -> Any:
            if not isinstance(value, tf.distribute.DistributedValues):
                return value  # one local replica: already the synchronised metric value
            if all(local.shape.rank == 0 for local in strategy.experimental_local_results(value)):
                return strategy.reduce("MEAN", value, axis=None)
            return original_reduce(value, strategy, reduction)

        if reduction in ("auto", "mean"):
            return keras.tree.map_structure(reduce, values)
        return original_reduce(values, strategy, reduction)

    def symbolic_build(iterator: Any = None, data_batch: Any = None) -> None:
        original_build(data_batch=sample if data_batch is None else data_batch)

    tf_trainer.reduce_per_replica = reduce_per_replica
    model._maybe_symbolic_build = symbolic_build
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original_reduce
        del model._maybe_symbolic_build


def main(params_path: Path) -> None:
    """``prodcat train``: the whole stage, or the chief of a multi-worker cluster."""
    train_stage(params_path, worker=False)


def worker_main(params_path: Path) -> None:
    """``prodcat train-worker``: a non-chief worker; it trains with the chief and writes nothing."""
    train_stage(params_path, worker=True)


def train_stage(params_path: Path, worker: bool) -> None:
    config = load_section(TrainConfig, "train", params_path)
    check_role(config.distribution, os.environ.get(TF_CONFIG), worker)
    set_op_threads(config.intra_op_threads, config.inter_op_threads)
    strategy = make_strategy(config.distribution)  # first op: it sets up the collective ops
    replicas = strategy.num_replicas_in_sync
    global_batch, learning_rate = scaled_hyperparameters(
        config.batch_size, config.learning_rate, replicas
    )
    logger.info(
        "distribution %s: %d replica(s) in sync; global batch %d, learning rate %g",
        config.distribution,
        replicas,
        global_batch,
        learning_rate,
    )
    report = read_json(layout.DATA_REPORT)
    labels = read_labels(layout.LABELS)
    train = read_encoded(layout.split_arrays("train"), memory_map=True)
    val = read_encoded(layout.split_arrays("val"), memory_map=True)
    seed_everything(config.seed)
    with strategy.scope():
        model = compile_model(
            build_model(
                Architecture.from_config(
                    config,
                    vocabulary_size=len(read_vocabulary(layout.VOCABULARY)),
                    sequence_length=train[0].shape[1],
                    num_classes=len(labels),
                )
            ),
            learning_rate,
        )
    distributed = None if config.distribution == "none" else strategy
    sample = (np.asarray(train[0][:1]), np.asarray(train[1][:1]))
    if worker:
        with keras_multi_worker_fixes(model, strategy, sample):
            history = fit(model, train, val, config, callbacks=[], strategy=distributed)
        # Saving may read synchronised variables, which takes every worker: save, then discard.
        with tempfile.TemporaryDirectory(prefix="prodcat-worker-") as scratch:
            model.save(Path(scratch) / "model.keras")
        logger.info("worker done: %d epochs trained with the chief", len(history))
        return
    lineage = {
        "git_commit": git_commit(),
        "data.path": report["source"]["path"],
        "data.md5": report["source"]["md5"],
    }
    with training_run(config.experiment_name, lineage) as run:
        mlflow.log_params(
            {
                **flat_params("train", dataclasses.asdict(config)),
                **flat_params("prepare", report["params"]),
                "train.num_replicas": replicas,
                "train.global_batch_size": global_batch,
                "train.effective_learning_rate": learning_rate,
            }
        )
        mlflow.log_dict(report, "data/data_report.json")
        for split, context in (("train", "training"), ("val", "validation"), ("test", "testing")):
            texts = pd.read_csv(layout.split_texts(split), dtype=str, keep_default_na=False)
            with warnings.catch_warnings():  # MLflow finds two equal sources for a local path
                warnings.simplefilter("ignore", UserWarning)
                dataset = mlflow.data.from_pandas(
                    texts, source=report["source"]["path"], targets="label", name=f"catalog-{split}"
                )
            mlflow.log_input(dataset, context=context)
        log_epoch = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: mlflow.log_metrics(logs, step=epoch + 1)
        )
        started = time.perf_counter()
        with keras_multi_worker_fixes(model, strategy, sample):
            history = fit(model, train, val, config, [log_epoch], strategy=distributed)
        fit_seconds = time.perf_counter() - started
        samples_per_second = steady_throughput(history["samples_per_second"])
        fit_samples_per_second = len(train[1]) * len(history) / fit_seconds
        fingerprint = weights_fingerprint(model)
        best = history.loc[history["val_loss"].idxmin()]
        mlflow.set_tag("model_sha256", fingerprint)
        mlflow.log_metrics(
            {
                "best_val_loss": best["val_loss"],
                "epochs_run": len(history),
                "train_samples_per_second": samples_per_second,
                "fit_samples_per_second": fit_samples_per_second,
            }
        )
        with atomic_path(layout.MODEL) as temporary:
            model.save(temporary)
        with atomic_path(layout.HISTORY) as temporary:
            history.to_csv(temporary, index=False, float_format="%.6f")
        write_json(
            {
                "run_id": run.info.run_id,
                "experiment_id": run.info.experiment_id,
                "model_sha256": fingerprint,
                "fit_seconds": round(fit_seconds, 3),
                "train_samples_per_second": round(samples_per_second, 1),
                "fit_samples_per_second": round(fit_samples_per_second, 1),
            },
            layout.TRAINING_RUN,
        )
    logger.info(
        "trained %d epochs; best val_loss %.4f, val_accuracy %.4f; MLflow run %s",
        len(history),
        best["val_loss"],
        best["val_accuracy"],
        run.info.run_id,
    )
