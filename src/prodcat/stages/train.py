"""Stage ``train``: fit the network, log the run to MLflow, save ``models/model.keras``.

On a multi-worker cluster (``train.distribution: multi_worker``) the chief runs ``prodcat train``
and the other workers ``prodcat train-worker``: they train with the chief and write nothing.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import keras
import mlflow

from prodcat.core.config import TrainConfig
from prodcat.core.distribution import check_role, make_strategy
from prodcat.core.model import Architecture
from prodcat.core.text import read_labels, read_vocabulary
from prodcat.core.training import Trained, set_op_threads, train_network, weights_fingerprint
from prodcat.io import layout
from prodcat.io.files import atomic_path, read_encoded, read_json, write_json
from prodcat.io.params import load_section
from prodcat.io.tracking import git_commit, log_training_setup, run_name, training_run

logger = logging.getLogger(__name__)


def main(params_path: Path, worker: bool = False) -> None:
    config = load_section(TrainConfig, "train", params_path)
    check_role(config.distribution, worker)
    set_op_threads(config.intra_op_threads, config.inter_op_threads)
    strategy = make_strategy(config.distribution)  # first op: it sets up the collective ops
    train, val = (read_encoded(layout.split_arrays(s), memory_map=True) for s in ("train", "val"))
    arch = Architecture.from_config(
        config,
        vocabulary_size=len(read_vocabulary(layout.VOCABULARY)),
        sequence_length=train[0].shape[1],
        num_classes=len(read_labels(layout.LABELS)),
    )
    if worker:
        trained = train_network(arch, config, train, val, strategy, callbacks=[])
        # Saving may read synchronised variables, which takes every worker: save, then discard.
        with tempfile.TemporaryDirectory(prefix="prodcat-worker-") as scratch:
            trained.model.save(Path(scratch) / "model.keras")
        logger.info("worker done: %d epochs trained with the chief", len(trained.history))
        return
    report = read_json(layout.DATA_REPORT)
    commit = git_commit()
    lineage = {"git_commit": commit, **{f"data.{k}": report["source"][k] for k in ("path", "md5")}}
    with training_run(config.experiment_name, lineage, run_name("train", commit)) as run:
        log_training_setup(config, report, strategy.num_replicas_in_sync)
        log_epoch = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: mlflow.log_metrics(logs, step=epoch + 1)
        )
        trained = train_network(arch, config, train, val, strategy, callbacks=[log_epoch])
        summary = save_trained(trained, run.info.run_id, run.info.experiment_id)
    logger.info("trained: %s; MLflow run %s", summary, run.info.run_id)


def save_trained(trained: Trained, run_id: str, experiment_id: str) -> dict:
    """The model, its history and ``run.json``; the run's summary metrics and weight hash."""
    fingerprint = weights_fingerprint(trained.model)
    summary = {
        "best_val_loss": float(trained.best_epoch["val_loss"]),
        "epochs_run": len(trained.history),
        "train_samples_per_second": round(trained.samples_per_second, 1),
        "fit_samples_per_second": round(trained.fit_samples_per_second, 1),
    }
    mlflow.set_tag("model_sha256", fingerprint)
    mlflow.log_metrics(summary)
    with atomic_path(layout.MODEL) as temporary:
        trained.model.save(temporary)
    with atomic_path(layout.HISTORY) as temporary:
        trained.history.to_csv(temporary, index=False, float_format="%.6f")
    run = {"run_id": run_id, "experiment_id": experiment_id, "model_sha256": fingerprint}
    seconds = {"fit_seconds": round(trained.fit_seconds, 3)}
    write_json({**run, **seconds, **summary}, layout.TRAINING_RUN)
    return summary
