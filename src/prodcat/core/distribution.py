"""Training across processes: the cluster ``TF_CONFIG`` describes, the ``tf.distribute``
strategy ``train.distribution`` names, and the linear scaling of batch and learning rate.

``none`` is TensorFlow's default strategy (one process, the default path); ``mirrored`` this
machine's devices; ``multi_worker`` the machines ``TF_CONFIG`` names, read by TensorFlow's own
``TFConfigClusterResolver``. Only the chief logs to MLflow and writes the stage's outputs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from prodcat.core.config import Distribution
from prodcat.core.errors import UserError

TF_CONFIG = "TF_CONFIG"
EXAMPLE = (
    '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}'
)


@dataclass(frozen=True)
class ClusterRole:
    """This process's task in the cluster, and whether the cluster names a chief task."""

    task_type: str
    index: int
    has_chief: bool

    @property
    def is_chief(self) -> bool:
        """Task ``chief``, or else ``worker`` 0: the process that logs and writes."""
        if self.has_chief:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.index == 0


def cluster_role() -> ClusterRole | None:
    """This process's role from ``TF_CONFIG`` (None when it is unset), checked before use."""
    if not os.environ.get(TF_CONFIG):
        return None
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    try:
        jobs = resolver.cluster_spec().as_dict()
        task_type, index = resolver.task_type, resolver.task_id
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(
            f"{TF_CONFIG} is not a usable cluster description ({error!r}); expected {EXAMPLE}"
        ) from None
    if task_type is None or index is None or task_type not in jobs:
        raise UserError(
            f"{TF_CONFIG} names no task of its cluster (task {task_type!r} {index!r}, jobs "
            f"{sorted(jobs)}); expected {EXAMPLE}"
        )
    if not 0 <= index < len(jobs[task_type]):
        raise UserError(f"{TF_CONFIG} task {task_type} {index} is not in the cluster's {task_type}")
    return ClusterRole(task_type, index, has_chief="chief" in jobs)


def is_chief(distribution: Distribution) -> bool:
    """Without a multi-worker cluster there is one process, and it is the chief."""
    if distribution != "multi_worker":
        return True
    role = cluster_role()
    return role is None or role.is_chief


def check_role(distribution: Distribution, worker: bool) -> None:
    """Refuse a launch that cannot work: ``prodcat train`` on a non-chief task, and so on."""
    if worker and distribution != "multi_worker":
        raise UserError(
            f"train.distribution is '{distribution}': `prodcat train-worker` needs 'multi_worker'"
        )
    if distribution != "multi_worker":
        return
    choose_strategy(distribution)  # refuses a missing TF_CONFIG
    chief = is_chief(distribution)
    if worker and chief:
        raise UserError(
            f"{TF_CONFIG} makes this task the chief: run `prodcat train` (or `dvc repro`) here"
        )
    if not worker and not chief:
        raise UserError(
            f"{TF_CONFIG} makes this task a non-chief worker: run `prodcat train-worker` here"
        )


def choose_strategy(distribution: Distribution) -> Callable[[], tf.distribute.Strategy]:
    """What creates the ``tf.distribute`` strategy for ``train.distribution``.

    ``multi_worker`` refuses to start without a cluster in ``TF_CONFIG``.
    """
    if distribution == "mirrored":
        return tf.distribute.MirroredStrategy
    if distribution == "multi_worker":
        if cluster_role() is None:
            raise UserError(
                f"train.distribution is 'multi_worker' but {TF_CONFIG} is not set; give every "
                f"machine e.g. {EXAMPLE} (see docs/guide.md)"
            )
        return tf.distribute.MultiWorkerMirroredStrategy
    return tf.distribute.get_strategy


def make_strategy(distribution: Distribution) -> tf.distribute.Strategy:
    """The strategy itself; call it before any other TF op.

    ``MultiWorkerMirroredStrategy`` configures the collective ops of the eager context, which
    TensorFlow allows only before the context is initialised.
    """
    return choose_strategy(distribution)()


def scaled_hyperparameters(
    batch_size: int, learning_rate: float, replicas: int
) -> tuple[int, float]:
    """Global batch and learning rate: both grow linearly with the replicas in sync."""
    return batch_size * replicas, learning_rate * replicas


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
