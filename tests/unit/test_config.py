import dataclasses
from pathlib import Path

import pytest

from prodcat.config import (
    SECTIONS,
    PrepareConfig,
    TrainConfig,
    load_section,
    parse_section,
    read_params,
)
from prodcat.errors import UserError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("params_file", ["params.yaml", "tests/fixtures/params.yaml"])
def test_repository_params_load_into_every_section(params_file: str) -> None:
    for name, cls in SECTIONS.items():
        assert isinstance(load_section(cls, name, REPO / params_file), cls)


def test_unknown_key_suggests_the_closest_known_key() -> None:
    with pytest.raises(UserError, match=r"unknown key 'train.epoch'; did you mean 'epochs'\?"):
        parse_section(TrainConfig, "train", {"epoch": 3})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": "ten"}, r"train.epochs is 'ten' \(str\); expected int"),
        ({"epochs": True}, r"train.epochs is True \(bool\); expected int"),
        ({"batch_size": 2.5}, r"train.batch_size is 2.5 \(float\); expected int"),
        ({"epochs": -1}, r"train.epochs must be at least 1"),
        ({"batch_size": 0}, r"train.batch_size must be at least 1"),
        ({"dropout": 1.0}, r"train.dropout must be in \[0, 1\)"),
        ({"attention": "foo"}, r"train.attention is 'foo'; expected one of 'self', 'additive'"),
    ],
)
def test_invalid_train_values_name_the_key(values: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_section(TrainConfig, "train", values, source="params.yaml")


def test_split_fractions_must_leave_rows_for_training() -> None:
    with pytest.raises(UserError, match="must sum below 1"):
        parse_section(PrepareConfig, "prepare", {"val_fraction": 0.5, "test_fraction": 0.5})


def test_an_int_is_accepted_for_a_float() -> None:
    config = parse_section(TrainConfig, "train", {"learning_rate": 1})
    assert config.learning_rate == 1.0
    assert isinstance(config.learning_rate, float)


def test_configs_are_frozen() -> None:
    config = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3  # type: ignore[misc]


def test_missing_params_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="params file not found"):
        read_params(tmp_path / "params.yaml")


def test_unknown_section_is_named(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("trian:\n  epochs: 3\n", encoding="utf-8")
    with pytest.raises(UserError, match="unknown section 'trian'; did you mean 'train'"):
        read_params(path)


def test_every_field_has_help_text() -> None:
    for cls in SECTIONS.values():
        for field in dataclasses.fields(cls):
            assert field.metadata.get("help"), f"{cls.__name__}.{field.name} has no help"
