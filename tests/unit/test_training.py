import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from prodcat.core import training
from prodcat.core.config import TrainConfig
from prodcat.core.model import Architecture, build_model, compile_model
from prodcat.core.training import (
    TrainingThroughput,
    class_weights,
    fit,
    seed_everything,
    steady_throughput,
    streamed_batches,
    weights_fingerprint,
)
from prodcat.io.files import read_encoded, write_array


def test_no_weighting_by_default() -> None:
    assert class_weights(np.array([0, 0, 1]), "none") is None


def test_balanced_weights_are_inverse_to_class_frequency() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), "balanced")
    assert weights == pytest.approx({0: 4 / (2 * 3), 1: 4 / (2 * 1)})


def test_streamed_batches_cover_every_row_shard_by_data_and_shuffle_by_seed(
    tmp_path: Path,
) -> None:
    paths = (tmp_path / "tokens.npy", tmp_path / "labels.npy")
    write_array(np.arange(20, dtype="int32").reshape(10, 2), paths[0])
    write_array(np.arange(10, dtype="int64"), paths[1])
    arrays = read_encoded(paths, memory_map=True)
    assert isinstance(arrays[0], np.memmap)
    shuffled = streamed_batches(arrays, 4, seed=7, shuffle=True)
    policy = shuffled.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA
    assert shuffled.element_spec[0].shape.as_list() == [None, 2]
    batches = [(tokens.numpy(), labels.numpy()) for tokens, labels in shuffled]
    assert [len(labels) for _, labels in batches] == [4, 4, 2]
    for tokens, labels in batches:  # each row keeps its own label
        np.testing.assert_array_equal(tokens[:, 0], labels * 2)
    labels = [batch[1].tolist() for batch in batches]
    assert sorted(label for batch in labels for label in batch) == list(range(10))
    assert labels != [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    again = [labels.numpy().tolist() for _, labels in streamed_batches(arrays, 4, 7, True)]
    assert again == labels
    next_pass = [labels.numpy().tolist() for _, labels in shuffled]
    assert next_pass != labels  # each epoch draws a new order
    assert sorted(label for batch in next_pass for label in batch) == list(range(10))
    in_order = [labels.numpy().tolist() for _, labels in streamed_batches(arrays, 4, 7, False)]
    assert in_order == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_throughput_times_the_training_pass_and_not_validation() -> None:
    ticks = iter([100.0, 102.0, 109.0])  # epoch begins, validation begins, epoch ends
    meter = TrainingThroughput(samples_per_epoch=500, clock=lambda: next(ticks))
    logs: dict[str, float] = {}
    meter.on_epoch_begin(0)
    meter.on_test_begin()
    meter.on_test_begin()  # a second evaluation in the same epoch does not move the mark
    meter.on_epoch_end(0, logs)
    assert logs["samples_per_second"] == pytest.approx(250.0)


def test_throughput_without_validation_times_the_whole_epoch() -> None:
    ticks = iter([0.0, 4.0])
    meter = TrainingThroughput(samples_per_epoch=100, clock=lambda: next(ticks))
    logs: dict[str, float] = {}
    meter.on_epoch_begin(0)
    meter.on_epoch_end(0, logs)
    assert logs["samples_per_second"] == pytest.approx(25.0)


def test_steady_throughput_leaves_out_the_first_epoch_which_traces_the_step() -> None:
    assert steady_throughput(pd.Series([100.0, 900.0, 1000.0, 1100.0])) == 1000.0
    assert steady_throughput(pd.Series([300.0])) == 300.0


# "Results with one worker match the single-process path", on a tiny model.
TINY = TrainConfig(
    embedding_dim=8, lstm_units=4, dropout=0.0, learning_rate=0.01, batch_size=8, epochs=3
)


def tiny_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 40, size=(64, 12)).astype("int32")
    x_val = rng.integers(1, 40, size=(16, 12)).astype("int32")
    return (x, x[:, 0] % 3), (x_val, x_val[:, 0] % 3)


def train_tiny(strategy: tf.distribute.Strategy | None) -> tuple[str, list[float]]:
    train, val = tiny_data()
    replicas = strategy.num_replicas_in_sync if strategy else 1
    seed_everything(TINY.seed)
    with (strategy or tf.distribute.get_strategy()).scope():
        architecture = Architecture(40, 12, 3, 8, 4, 0.0, "self", "attention", 2)
        model = compile_model(build_model(architecture), TINY.learning_rate * replicas)
    history = fit(model, train, val, TINY, [], strategy=strategy)
    return weights_fingerprint(model), history["loss"].tolist()


def test_one_replica_mirrored_strategy_changes_no_weight_given_the_same_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The strategy itself is exact: same batches in, byte-identical weights out.

    Shuffling is turned off here: ``experimental_distribute_dataset`` rewrites the input graph,
    which gives the seeded shuffle another order than the same dataset read directly.
    """
    unshuffled = training.streamed_batches
    monkeypatch.setattr(
        training,
        "streamed_batches",
        lambda arrays, batch, seed, shuffle: unshuffled(arrays, batch, seed, False),
    )
    mirrored = tf.distribute.MirroredStrategy()
    assert mirrored.num_replicas_in_sync == 1
    assert train_tiny(mirrored) == train_tiny(tf.distribute.get_strategy())


def test_one_replica_mirrored_training_matches_the_single_process_path_closely() -> None:
    """Both read the same seeded ``tf.data`` pipeline, but the strategy rewrites its graph,
    which gives the seeded shuffle another order.

    Same initial weights and same hyperparameters, but another batch order: the weights differ,
    the losses stay close, and each path on its own is deterministic.
    """
    single_fingerprint, single_losses = train_tiny(None)
    mirrored_fingerprint, mirrored_losses = train_tiny(tf.distribute.MirroredStrategy())
    assert train_tiny(None) == (single_fingerprint, single_losses)
    assert train_tiny(tf.distribute.MirroredStrategy()) == (mirrored_fingerprint, mirrored_losses)
    assert mirrored_losses == pytest.approx(single_losses, abs=0.05)


def test_the_learning_rate_is_reduced_after_each_epoch_without_a_better_validation_loss() -> None:
    config = dataclasses.replace(
        TINY, learning_rate=0.2, epochs=8, patience=8, lr_plateau_factor=0.5, lr_plateau_patience=0
    )
    train, val = tiny_data()
    seed_everything(config.seed)
    model = compile_model(
        build_model(Architecture(40, 12, 3, 8, 4, 0.0, "self", "attention", 2)),
        config.learning_rate,
    )
    history = fit(model, train, val, config, [])
    rates, losses = history["learning_rate"].tolist(), history["val_loss"].tolist()
    assert rates[0] == pytest.approx(0.2)
    best = float("inf")
    for epoch in range(len(history) - 1):
        improved = losses[epoch] < best - 1e-4  # ReduceLROnPlateau's default min_delta
        if improved:
            best = losses[epoch]
        expected = rates[epoch] if improved else rates[epoch] * 0.5
        assert rates[epoch + 1] == pytest.approx(expected), epoch
    assert rates[-1] < rates[0]  # the plateau was reached at least once


def test_fitting_raises_no_keras_warning() -> None:
    """Keras warns when an epoch runs into the end of a dataset of unknown length, and when
    ``shuffle`` is left on for a ``tf.data`` input: both are settled where the data is made."""
    train, val = tiny_data()
    seed_everything(TINY.seed)
    model = compile_model(
        build_model(Architecture(40, 12, 3, 8, 4, 0.0, "self", "attention", 2)), 0.01
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        fit(model, train, val, dataclasses.replace(TINY, epochs=2), [])
    assert not [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
