"""Stage ``train``: fit the attention classifier, log the run to MLflow, save a ``.keras`` model."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
import warnings
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from prodcat import layout
from prodcat.config import TrainConfig, load_section
from prodcat.data import read_encoded
from prodcat.files import atomic_path, read_json, write_json
from prodcat.model import Architecture, build_model, compile_model
from prodcat.text import read_labels, read_vocabulary
from prodcat.tracking import flat_params, git_commit, training_run

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Same seed, same weights: Python, NumPy and TensorFlow seeds plus deterministic kernels."""
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


def fit(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    callbacks: list[keras.callbacks.Callback],
) -> pd.DataFrame:
    """Train with early stopping on validation loss; return the per-epoch history."""
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True
    )
    history = model.fit(
        *train,
        class_weight=class_weights(train[1], config.class_weight),
        validation_data=val,
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        callbacks=[stopping, *callbacks],
        verbose=2,
    )
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", range(1, len(frame) + 1))
    return frame


def main(params_path: Path) -> None:
    config = load_section(TrainConfig, "train", params_path)
    report = read_json(layout.DATA_REPORT)
    labels = read_labels(layout.LABELS)
    train = read_encoded(layout.split_arrays("train"))
    val = read_encoded(layout.split_arrays("val"))
    seed_everything(config.seed)
    model = compile_model(
        build_model(
            Architecture(
                vocabulary_size=len(read_vocabulary(layout.VOCABULARY)),
                sequence_length=train[0].shape[1],
                num_classes=len(labels),
                embedding_dim=config.embedding_dim,
                lstm_units=config.lstm_units,
                dropout=config.dropout,
                attention=config.attention,
                pooling=config.pooling,
            )
        ),
        config.learning_rate,
    )
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
        history = fit(model, train, val, config, callbacks=[log_epoch])
        fit_seconds = time.perf_counter() - started
        samples_per_second = len(train[1]) * len(history) / fit_seconds
        fingerprint = weights_fingerprint(model)
        best = history.loc[history["val_loss"].idxmin()]
        mlflow.set_tag("model_sha256", fingerprint)
        mlflow.log_metrics(
            {
                "best_val_loss": best["val_loss"],
                "epochs_run": len(history),
                "train_samples_per_second": samples_per_second,
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
