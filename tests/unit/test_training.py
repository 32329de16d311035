import dataclasses
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from prodcat.core import training
from prodcat.core.config import TrainConfig
from prodcat.core.features import WIDE_FEATURES, WORD_IDS, SplitData
from prodcat.core.model import DEEP_SCALE, WIDE_SCALE, Architecture, build_model, deep_path
from prodcat.core.training import (
    LazyAdam,
    TrainingThroughput,
    class_weights,
    compile_deep,
    fit,
    fit_scales,
    path_logits,
    seed_everything,
    steady_throughput,
    streamed_batches,
    train_network,
    weights_fingerprint,
)
from prodcat.io.files import read_encoded, write_array
from tests.unit.tiny_model import tiny_encoder


def test_no_weighting_when_asked() -> None:
    assert class_weights(np.array([0, 0, 1]), "none") is None


def test_balanced_weights_are_inverse_to_class_frequency() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), "balanced")
    assert weights == pytest.approx({0: 4 / (2 * 3), 1: 4 / (2 * 1)})


def test_sqrt_weights_are_inverse_to_the_root_of_the_frequency_and_average_one() -> None:
    labels = np.array([0] * 16 + [1] * 4 + [3] * 1)  # class 2 has no rows
    weights = class_weights(labels, "sqrt")
    assert set(weights) == {0, 1, 3}
    assert weights[1] / weights[0] == pytest.approx(2.0)  # a quarter of the rows: twice the weight
    assert weights[3] / weights[0] == pytest.approx(4.0)
    assert np.mean([weights[label] for label in labels]) == pytest.approx(1.0)
    assert TrainConfig().class_weight == "sqrt"


def test_streamed_batches_cover_every_row_shard_by_data_and_shuffle_by_seed(
    tmp_path: Path,
) -> None:
    paths = (tmp_path / "tokens.npy", tmp_path / "labels.npy")
    write_array(np.arange(20, dtype="int32").reshape(10, 2), paths[0])
    write_array(np.arange(10, dtype="int64"), paths[1])
    word_ids, label_ids = read_encoded(paths, memory_map=True)
    assert isinstance(word_ids, np.memmap)
    pieces = np.arange(60, dtype="int32").reshape(10, 2, 3)  # a second input, 3-d
    inputs = {WORD_IDS: word_ids, "pieces": pieces}
    shuffled = streamed_batches(inputs, label_ids, 4, seed=7, shuffle=True)
    policy = shuffled.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA
    assert shuffled.element_spec[0][WORD_IDS].shape.as_list() == [None, 2]
    assert shuffled.element_spec[0]["pieces"].shape.as_list() == [None, 2, 3]
    batches = [(x[WORD_IDS].numpy(), x["pieces"].numpy(), y.numpy()) for x, y in shuffled]
    assert [len(labels) for _, _, labels in batches] == [4, 4, 2]
    for tokens, more, labels in batches:  # each row keeps its own label and inputs
        np.testing.assert_array_equal(tokens[:, 0], labels * 2)
        np.testing.assert_array_equal(more[:, 0, 0], labels * 6)
    labels = [batch[2].tolist() for batch in batches]
    assert sorted(label for batch in labels for label in batch) == list(range(10))
    assert labels != [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    again = [y.numpy().tolist() for _, y in streamed_batches(inputs, label_ids, 4, 7, True)]
    assert again == labels
    next_pass = [y.numpy().tolist() for _, y in shuffled]
    assert next_pass != labels  # each epoch draws a new order
    assert sorted(label for batch in next_pass for label in batch) == list(range(10))
    in_order = [y.numpy().tolist() for _, y in streamed_batches(inputs, label_ids, 4, 7, False)]
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
    embedding_dim=8,
    lstm_units=4,
    dropout=0.0,
    learning_rate=0.01,
    batch_size=8,
    epochs=3,
    word_dropout=0.3,
)
# The deep path as trained by default: subwords, word dropout, LazyAdam, class weights.
TINY_ARCHITECTURE = Architecture(
    40, 12, 3, 8, 4, 0.0, "self", "attention", 2, 50, 4, word_dropout=0.3, seed=42
)


def tiny_data() -> tuple[SplitData, SplitData]:
    rng = np.random.default_rng(0)

    def split(rows: int) -> SplitData:
        words = rng.integers(1, 40, size=(rows, 12)).astype("int32")
        pieces = rng.integers(0, 51, size=(rows, 12, 4)).astype("int32")
        return SplitData({WORD_IDS: words, "subword_ids": pieces}, words[:, 0] % 3)

    return split(64), split(16)


def tiny_deep_model(learning_rate: float) -> keras.Model:
    return compile_deep(deep_path(build_model(TINY_ARCHITECTURE)), learning_rate)


def train_tiny(strategy: tf.distribute.Strategy | None) -> tuple[str, list[float]]:
    train, val = tiny_data()
    replicas = strategy.num_replicas_in_sync if strategy else 1
    seed_everything(TINY.seed)
    with (strategy or tf.distribute.get_strategy()).scope():
        model = tiny_deep_model(TINY.learning_rate * replicas)
    history = fit(model, train, val, TINY, [], strategy=strategy)
    return weights_fingerprint(model), history["loss"].tolist()


def test_one_replica_mirrored_strategy_changes_no_weight_given_the_same_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The strategy itself is exact: same batches in, byte-identical weights out, LazyAdam's
    sparse row updates of the embeddings included.

    Shuffling is turned off here: ``experimental_distribute_dataset`` rewrites the input graph,
    which gives the seeded shuffle another order than the same dataset read directly.
    """
    unshuffled = training.streamed_batches
    monkeypatch.setattr(
        training,
        "streamed_batches",
        lambda inputs, labels, batch, seed, shuffle: unshuffled(inputs, labels, batch, seed, False),
    )
    mirrored = tf.distribute.MirroredStrategy()
    assert mirrored.num_replicas_in_sync == 1
    assert train_tiny(mirrored) == train_tiny(tf.distribute.get_strategy())


def test_one_replica_mirrored_training_matches_the_single_process_path_closely() -> None:
    """Both read the same seeded ``tf.data`` pipeline, but the strategy rewrites its graph,
    which gives the seeded shuffle another order.

    Same initial weights and same hyperparameters, but another batch order: the weights differ,
    the losses stay close, and the mirrored path on its own is deterministic (the single-process
    path's determinism is the end-to-end rebuild's: byte-identical weights from ``dvc repro -f``).
    """
    _, single_losses = train_tiny(None)
    mirrored_fingerprint, mirrored_losses = train_tiny(tf.distribute.MirroredStrategy())
    assert train_tiny(tf.distribute.MirroredStrategy()) == (mirrored_fingerprint, mirrored_losses)
    assert mirrored_losses == pytest.approx(single_losses, abs=0.05)


def lazy_and_plain_adam_steps(
    strategy: tf.distribute.Strategy,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An embedding table after two steps: rows 1 and 2 read by the first, row 3 by the second.

    Returns the table at start and after the two steps of LazyAdam and of Keras' Adam.
    """
    tables = []
    for optimizer_class in (LazyAdam, keras.optimizers.Adam):
        with strategy.scope():
            table = keras.Variable(np.ones((5, 2), dtype="float32"))
            optimizer = optimizer_class(learning_rate=0.1)
            optimizer.build([table])

        def step(rows: list[int], table: keras.Variable, optimizer: Any) -> None:
            def replica_step() -> None:
                with tf.GradientTape() as tape:
                    loss = tf.reduce_sum(tf.gather(table.value, rows) ** 2)
                gradient = tape.gradient(loss, table.value)
                assert isinstance(gradient, tf.IndexedSlices)  # a lookup's gradient is sparse
                optimizer.apply_gradients([(gradient, table)])

            tf.function(lambda: strategy.run(replica_step))()

        step([1, 2, 2], table, optimizer)
        step([3], table, optimizer)
        tables.append(np.asarray(table.value))
    return np.ones((5, 2), dtype="float32"), tables[0], tables[1]


@pytest.mark.parametrize("kind", ["default", "mirrored"])
def test_lazy_adam_moves_only_the_rows_a_step_reads(kind: str) -> None:
    strategy = (
        tf.distribute.MirroredStrategy() if kind == "mirrored" else tf.distribute.get_strategy()
    )
    start, lazy, plain = lazy_and_plain_adam_steps(strategy)
    np.testing.assert_array_equal(lazy[[0, 4]], start[[0, 4]])  # never read: untouched
    assert np.all(lazy[[1, 2, 3]] < start[[1, 2, 3]])  # read rows move down the gradient
    # Rows 1 and 2 move by Adam's first step (the learning rate), then keep their place in the
    # second step, while Keras' Adam moves every row read before (momentum).
    np.testing.assert_allclose(lazy[[1, 2]], start[[1, 2]] - 0.1, rtol=1e-5)
    assert np.all(plain[[1, 2]] < lazy[[1, 2]])
    # Row 3, read by the second step only, gets fresh moments with the step's bias correction.
    beta_1, beta_2 = 0.9, 0.999
    np.testing.assert_allclose(
        lazy[3], start[3] - 0.1 * np.sqrt(1 + beta_2) / (1 + beta_1), rtol=1e-5
    )


def test_lazy_adam_is_registered_and_round_trips() -> None:
    assert keras.saving.get_registered_object("prodcat>LazyAdam") is LazyAdam
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(LazyAdam(0.003)))
    assert isinstance(clone, LazyAdam)
    assert float(clone.learning_rate) == pytest.approx(0.003)


def test_the_scales_minimise_the_fused_log_loss() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    truth = np.eye(3)[labels]
    wide = 4 * truth + rng.normal(0, 1.5, (300, 3))  # informative, on a large scale
    deep = 0.2 * truth + rng.normal(0, 0.1, (300, 3))  # informative, on a small one
    scales, loss = fit_scales({WIDE_SCALE: wide, DEEP_SCALE: deep}, labels)
    assert scales[WIDE_SCALE] > 0 and scales[DEEP_SCALE] > 0
    assert scales[DEEP_SCALE] > scales[WIDE_SCALE]  # the small-scale path is scaled up

    def log_loss(w: float, d: float) -> float:
        fused = w * wide + d * deep
        fused -= fused.max(axis=1, keepdims=True)
        return float(-(fused[np.arange(300), labels] - np.log(np.exp(fused).sum(1))).mean())

    assert loss == pytest.approx(log_loss(scales[WIDE_SCALE], scales[DEEP_SCALE]), rel=1e-6)
    assert loss < log_loss(1.0, 1.0)
    for w, d in ((1.1, 1.0), (0.9, 1.0), (1.0, 1.1), (1.0, 0.9)):  # a minimum
        assert loss <= log_loss(scales[WIDE_SCALE] * w, scales[DEEP_SCALE] * d) + 1e-9
    alone, _ = fit_scales({WIDE_SCALE: wide}, labels)
    assert list(alone) == [WIDE_SCALE]


def test_scales_stay_at_one_when_every_validation_row_is_right() -> None:
    labels = np.array([0, 1, 2])
    wide, deep = np.eye(3), 0.5 * np.eye(3)  # both right on every row
    scales, loss = fit_scales({WIDE_SCALE: wide, DEEP_SCALE: deep}, labels)
    assert scales == {WIDE_SCALE: 1.0, DEEP_SCALE: 1.0}
    fused = 1.5 * np.eye(3)
    assert loss == pytest.approx(float(np.log(np.exp(fused[0]).sum()) - 1.5))
    deep[0] = [0, 3, 0]  # one row wrong once fused: the scales are fitted again
    fitted, _ = fit_scales({WIDE_SCALE: wide, DEEP_SCALE: deep}, labels)
    assert fitted != {WIDE_SCALE: 1.0, DEEP_SCALE: 1.0}


def test_training_fits_the_deep_path_alone_then_the_scales() -> None:
    encoder = tiny_encoder()
    titles = ["red leather boots", "canvas tote bag", "cotton shirt", "red tote", "ankle boots"]
    labels = np.array([1, 0, 2, 0, 1])
    inputs = encoder.encode(titles * 4)
    train = SplitData({k: v for k, v in inputs.items() if k != WIDE_FEATURES}, np.tile(labels, 4))
    val = SplitData(encoder.encode(titles), labels)
    config = dataclasses.replace(TINY, epochs=2)
    arch = Architecture.from_config(config, encoder, num_classes=3)
    rng = np.random.default_rng(1)
    weights = (rng.normal(size=(3, encoder.wide.size)).astype("float32"), np.zeros(3, "float32"))
    trained = train_network(arch, config, train, val, tf.distribute.get_strategy(), [], weights)
    assert len(trained.history) == 2
    assert set(trained.scales) == {WIDE_SCALE, DEEP_SCALE}
    kernel, _ = trained.model.get_layer("wide_logits").get_weights()
    np.testing.assert_array_equal(kernel, weights[0].T)  # the wide path is not trained
    logits = path_logits(trained.model, val.inputs)
    _, loss = fit_scales(logits, labels)
    assert trained.val_loss == pytest.approx(loss, rel=1e-4)
    assert trained.summary()["epochs_run"] == 2


def test_a_wide_only_network_trains_no_epoch() -> None:
    encoder = tiny_encoder(deep=False)
    titles = ["red leather boots", "canvas tote bag", "cotton shirt"]
    labels = np.array([1, 0, 2])
    config = dataclasses.replace(TINY, deep=False)
    arch = Architecture.from_config(config, encoder, num_classes=3)
    weights = (np.ones((3, encoder.wide.size), "float32"), np.zeros(3, "float32"))
    split = SplitData(encoder.encode(titles), labels)
    trained = train_network(arch, config, split, split, tf.distribute.get_strategy(), [], weights)
    assert trained.history.empty
    assert set(trained.scales) == {WIDE_SCALE}
    assert "epochs_run" not in trained.summary()


def test_the_learning_rate_is_reduced_after_each_epoch_without_a_better_validation_loss() -> None:
    """And no Keras warning on the way: Keras warns when an epoch runs into the end of a dataset
    of unknown length, and when ``shuffle`` is left on for a ``tf.data`` input; both are settled
    where the data is made."""
    config = dataclasses.replace(
        TINY, learning_rate=0.2, epochs=8, patience=8, lr_plateau_factor=0.5, lr_plateau_patience=0
    )
    train, val = tiny_data()
    seed_everything(config.seed)
    model = tiny_deep_model(config.learning_rate)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        history = fit(model, train, val, config, [])
    assert not [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
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
