"""Stage ``train``: fit the network, log the run to MLflow, save ``models/model.keras`` and the
feature state beside it (``models/features.json``).

The wide path is the ``baseline`` stage's fitted model; the deep path reads the word and subword
ids ``prepare`` wrote. On a multi-worker cluster (``train.distribution: multi_worker``) the chief
runs ``prodcat train`` and the other workers ``prodcat train-worker``: they train with the chief
and write nothing.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import keras
import mlflow

from prodcat.core.config import TrainConfig
from prodcat.core.distribution import check_role, make_strategy
from prodcat.core.features import WORD_IDS, FeatureEncoder
from prodcat.core.model import Architecture
from prodcat.core.text import build_vectorizer, read_labels, read_vocabulary
from prodcat.core.training import Trained, set_op_threads, train_network, weights_fingerprint
from prodcat.io import layout
from prodcat.io.files import atomic_path, read_json, write_json
from prodcat.io.params import load_section
from prodcat.io.prepared import read_split, read_subwords, read_wide
from prodcat.io.tracking import git_commit, log_training_setup, run_name, training_run

logger = logging.getLogger(__name__)


def main(params_path: Path, worker: bool = False) -> None:
    config = load_section(TrainConfig, "train", params_path)
    check_role(config.distribution, worker)
    set_op_threads(config.intra_op_threads, config.inter_op_threads)
    strategy = make_strategy(config.distribution)  # first op: it sets up the collective ops
    wide, wide_weights = read_wide() if config.wide else (None, None)
    train, val = read_split("train"), read_split("val", wide)
    vocabulary, subwords = read_vocabulary(layout.VOCABULARY), read_subwords()
    vectorizer = build_vectorizer(vocabulary, train.inputs[WORD_IDS].shape[1])
    encoder = FeatureEncoder(vectorizer, subwords, wide, deep=config.deep)
    arch = Architecture.from_config(config, encoder, len(read_labels(layout.LABELS)))
    if worker:
        trained = train_network(arch, config, train, val, strategy, [], wide_weights)
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
        trained = train_network(arch, config, train, val, strategy, [log_epoch], wide_weights)
        summary = save_trained(trained, encoder, run.info.run_id, run.info.experiment_id)
    logger.info("trained: %s; MLflow run %s", summary, run.info.run_id)


def save_trained(trained: Trained, encoder: FeatureEncoder, run_id: str, experiment: str) -> dict:
    """The model, its feature state, history and ``run.json``; the run's summary metrics."""
    fingerprint, summary = weights_fingerprint(trained.model), trained.summary()
    mlflow.set_tag("model_sha256", fingerprint)
    mlflow.log_metrics(summary)
    with atomic_path(layout.MODEL) as temporary:
        trained.model.save(temporary)
    write_json(encoder.state(), layout.FEATURES)
    with atomic_path(layout.HISTORY) as temporary:
        trained.history.to_csv(temporary, index=False, float_format="%.6f")
    run = {"run_id": run_id, "experiment_id": experiment, "model_sha256": fingerprint}
    write_json(
        {**run, "fit_seconds": round(trained.fit_seconds, 3), **summary}, layout.TRAINING_RUN
    )
    return summary
