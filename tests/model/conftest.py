"""The real default network, trained in-process on the fixture catalog, behind the served
predictor: ``prepare``, ``baseline`` and ``train`` as their pure ``core`` functions run them
(nothing is written, no MLflow run), then the calibration ``evaluate`` fits on validation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import tensorflow as tf

from prodcat.core.baseline import fit_and_score
from prodcat.core.calibration import calibrate
from prodcat.core.catalog import LABEL, TEXT
from prodcat.core.config import BaselineConfig, EvaluateConfig, PrepareConfig, TrainConfig
from prodcat.core.features import SUBWORD_IDS, WIDE_FEATURES, WORD_IDS, FeatureEncoder, SplitData
from prodcat.core.model import Architecture
from prodcat.core.preparation import PreparedData, prepare_catalog
from prodcat.core.text import build_vectorizer, vocabulary_slices
from prodcat.core.training import train_network
from prodcat.io.catalog import read_catalog
from prodcat.io.params import load_section
from prodcat.serving.predictor import Predictor

REPO = Path(__file__).resolve().parents[2]
FIXTURE_PARAMS = REPO / "tests/fixtures/params.yaml"


@dataclass(frozen=True)
class FixtureModel:
    """The served predictor and the split it was trained and evaluated on."""

    predictor: Predictor
    prepared: PreparedData

    @property
    def test(self) -> pd.DataFrame:
        """The held-out titles (normalised, as ``prepare`` writes them) and their labels."""
        return self.prepared.splits.test


def split_data(prepared: PreparedData, name: str, encoder: FeatureEncoder) -> SplitData:
    """One split's inputs as ``train`` reads them (``io.prepared.read_split``), from memory."""
    word_ids, label_ids = prepared.arrays[name]
    texts = dict(prepared.splits.items())[name][TEXT].tolist()
    inputs = {WORD_IDS: word_ids}
    if name in prepared.subword_ids:
        inputs[SUBWORD_IDS] = prepared.subword_ids[name]
    if encoder.wide is not None:
        inputs[WIDE_FEATURES] = encoder.wide.transform(texts)
    return SplitData(inputs, label_ids)


def train_fixture_model(params_path: Path = FIXTURE_PARAMS) -> FixtureModel:
    """``prepare``, ``baseline`` and ``train`` in memory, then the served predictor."""
    prepare = load_section(PrepareConfig, "prepare", params_path)
    train = load_section(TrainConfig, "train", params_path)
    columns = (prepare.text_column, prepare.label_column, prepare.encoding)
    frame = read_catalog(REPO / prepare.path, *columns)
    prepared = prepare_catalog(frame, prepare, source=prepare.path)
    splits = prepared.splits
    baseline = fit_and_score(
        load_section(BaselineConfig, "baseline", params_path),
        splits.train,
        splits.val,
        splits.test,
        vocabulary_slices(prepared.arrays["test"][0]),
    )
    sequence_length = prepared.arrays["train"][0].shape[1]
    encoder = FeatureEncoder(
        build_vectorizer(prepared.vocabulary, sequence_length),
        prepared.subwords,
        baseline.wide_features() if train.wide else None,
        deep=train.deep,
    )
    trained = train_network(
        Architecture.from_config(train, encoder, len(prepared.labels)),
        train,
        split_data(prepared, "train", encoder),
        split_data(prepared, "val", encoder),
        tf.distribute.get_strategy(),
        [],
        baseline.linear_weights(prepared.labels) if train.wide else None,
    )
    labels, cut = tuple(prepared.labels), prepare.max_title_chars
    uncalibrated = Predictor(trained.model, encoder, labels, max_title_chars=cut)
    calibration = calibrate(  # as ``evaluate`` fits it, on the validation split
        uncalibrated.probabilities(splits.val[TEXT].tolist()),
        prepared.arrays["val"][1],
        load_section(EvaluateConfig, "evaluate", params_path).target_precision,
    )
    return FixtureModel(Predictor(trained.model, encoder, labels, calibration, cut), prepared)


@pytest.fixture(scope="module")
def fixture_model() -> FixtureModel:
    return train_fixture_model()


@pytest.fixture(scope="module")
def predictor(fixture_model: FixtureModel) -> Predictor:
    return fixture_model.predictor


@pytest.fixture(scope="module")
def held_out(fixture_model: FixtureModel) -> pd.DataFrame:
    """The test split: titles the model never saw, with their labels."""
    return fixture_model.test[[TEXT, LABEL]].reset_index(drop=True)
