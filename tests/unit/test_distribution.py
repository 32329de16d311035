import json

import pytest
import tensorflow as tf

from prodcat.core.distribution import (
    ClusterRole,
    check_role,
    choose_strategy,
    cluster_role,
    is_chief,
    scaled_hyperparameters,
)
from prodcat.core.errors import UserError


def tf_config(task_type: str, index: int, chief: bool = False) -> str:
    cluster: dict[str, list[str]] = {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]}
    if chief:
        cluster["chief"] = ["127.0.0.1:20000"]
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch):
    """Set (or, with None, unset) TF_CONFIG for the test."""

    def set_config(config: str | None) -> None:
        if config is None:
            monkeypatch.delenv("TF_CONFIG", raising=False)
        else:
            monkeypatch.setenv("TF_CONFIG", config)

    return set_config


def test_cluster_role_reads_type_and_index(cluster) -> None:
    cluster(tf_config("worker", 1))
    assert cluster_role() == ClusterRole("worker", 1, has_chief=False)
    cluster(None)
    assert cluster_role() is None
    cluster("")
    assert cluster_role() is None


@pytest.mark.parametrize(
    "broken",
    ["not json", '{"cluster": {}}', tf_config("worker", 2), tf_config("ps", 0)],
)
def test_an_unusable_tf_config_is_refused(cluster, broken: str) -> None:
    cluster(broken)
    with pytest.raises(UserError, match="TF_CONFIG"):
        cluster_role()


@pytest.mark.parametrize(
    ("config", "chief"),
    [
        (tf_config("worker", 0), True),  # no chief task: worker 0 acts as chief
        (tf_config("worker", 1), False),
        (tf_config("chief", 0, chief=True), True),
        (tf_config("worker", 0, chief=True), False),  # a named chief outranks worker 0
        (None, True),
    ],
)
def test_chief_is_the_chief_task_or_else_worker_zero(
    cluster, config: str | None, chief: bool
) -> None:
    cluster(config)
    assert is_chief("multi_worker") is chief


@pytest.mark.parametrize("distribution", ["none", "mirrored"])
def test_a_single_process_is_always_the_chief(cluster, distribution: str) -> None:
    cluster(tf_config("worker", 1))
    assert is_chief(distribution)


def test_strategy_choice(cluster) -> None:
    cluster(None)
    assert choose_strategy("none") is tf.distribute.get_strategy
    assert choose_strategy("mirrored") is tf.distribute.MirroredStrategy
    cluster(tf_config("worker", 1))
    assert choose_strategy("multi_worker") is tf.distribute.MultiWorkerMirroredStrategy


def test_multi_worker_without_tf_config_is_refused(cluster) -> None:
    cluster(None)
    with pytest.raises(UserError, match="'multi_worker' but TF_CONFIG is not set"):
        choose_strategy("multi_worker")


@pytest.mark.parametrize(
    ("distribution", "config", "worker", "message"),
    [
        ("none", tf_config("worker", 1), True, "train-worker` needs 'multi_worker'"),
        ("multi_worker", None, True, "TF_CONFIG is not set"),
        ("multi_worker", None, False, "TF_CONFIG is not set"),
        ("multi_worker", tf_config("worker", 0), True, r"run `prodcat train` \(or `dvc repro`\)"),
        ("multi_worker", tf_config("worker", 1), False, "run `prodcat train-worker` here"),
    ],
)
def test_a_launch_in_the_wrong_role_is_refused(
    cluster, distribution: str, config: str | None, worker: bool, message: str
) -> None:
    cluster(config)
    with pytest.raises(UserError, match=message):
        check_role(distribution, worker)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("distribution", "config", "worker"),
    [
        ("none", None, False),
        ("mirrored", None, False),
        ("multi_worker", tf_config("worker", 0), False),
        ("multi_worker", tf_config("worker", 1), True),
        ("multi_worker", tf_config("worker", 0, chief=True), True),
    ],
)
def test_a_launch_in_the_right_role_passes(
    cluster, distribution: str, config: str | None, worker: bool
) -> None:
    cluster(config)
    check_role(distribution, worker)  # type: ignore[arg-type]


def test_batch_and_learning_rate_scale_linearly_with_replicas() -> None:
    assert scaled_hyperparameters(16, 0.01, 2) == (32, pytest.approx(0.02))
    assert scaled_hyperparameters(32, 0.003, 8) == (256, pytest.approx(0.024))


def test_one_replica_keeps_the_values_exactly() -> None:
    assert scaled_hyperparameters(32, 0.003, 1) == (32, 0.003)
