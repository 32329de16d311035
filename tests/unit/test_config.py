import dataclasses
from pathlib import Path

import pytest

from prodcat.core.config import (
    SECTIONS,
    PrepareConfig,
    TrainConfig,
    parse_section,
)
from prodcat.core.errors import UserError
from prodcat.io.params import load_section, read_params

REPO = Path(__file__).parents[2]


@pytest.mark.parametrize("name", SECTIONS)
def test_defaults_are_valid_and_an_empty_section_means_defaults(name: str) -> None:
    cls = SECTIONS[name]
    assert parse_section(cls, name, {}) == cls()


@pytest.mark.parametrize("params_file", ["params.yaml", "tests/fixtures/params.yaml"])
def test_repository_params_load_into_every_section(params_file: str) -> None:
    path = REPO / params_file
    assert set(read_params(path)) == set(SECTIONS)
    for name, cls in SECTIONS.items():
        assert isinstance(load_section(cls, name, path), cls)


def test_a_section_missing_from_the_file_gets_its_defaults(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  epochs: 2\nevaluate:\n", encoding="utf-8")
    assert load_section(TrainConfig, "train", path) == TrainConfig(epochs=2)
    assert load_section(PrepareConfig, "prepare", path) == PrepareConfig()


def test_unknown_key_suggests_the_closest_known_key() -> None:
    with pytest.raises(UserError, match=r"unknown key 'train\.epoch'; did you mean 'epochs'\?"):
        parse_section(TrainConfig, "train", {"epoch": 3})


def test_unknown_key_without_a_close_match_lists_the_known_keys() -> None:
    with pytest.raises(UserError, match=r"unknown key 'train\.zzz'; known: .*batch_size.*epochs"):
        parse_section(TrainConfig, "train", {"zzz": 3})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": "ten"}, r"train\.epochs is 'ten' \(str\); expected int"),
        ({"epochs": True}, r"train\.epochs is True \(bool\); expected int"),
        ({"batch_size": 2.5}, r"train\.batch_size is 2\.5 \(float\); expected int"),
        ({"learning_rate": "fast"}, r"train\.learning_rate is 'fast' \(str\); expected float"),
        ({"learning_rate": True}, r"train\.learning_rate is True \(bool\); expected float"),
        ({"experiment_name": 7}, r"train\.experiment_name is 7 \(int\); expected str"),
        ({"epochs": -1}, r"train\.epochs must be at least 1"),
        ({"batch_size": 0}, r"train\.batch_size must be at least 1"),
        ({"attention_heads": 0}, r"train\.attention_heads must be at least 1"),
        ({"dropout": 1.0}, r"train\.dropout must be in \[0, 1\)"),
        ({"learning_rate": 0}, r"train\.learning_rate must be positive"),
        ({"patience": -1}, r"train\.patience must be 0 or more"),
        ({"lr_plateau_factor": 0}, r"train\.lr_plateau_factor must be in \(0, 1\]"),
        ({"lr_plateau_factor": 1.5}, r"train\.lr_plateau_factor must be in \(0, 1\]"),
        ({"lr_plateau_patience": -1}, r"train\.lr_plateau_patience must be 0 or more"),
        ({"intra_op_threads": -1}, r"train\.intra_op_threads must be 0 \(every core\) or more"),
        ({"inter_op_threads": -2}, r"train\.inter_op_threads must be 0 \(every core\) or more"),
        ({"attention": "foo"}, r"train\.attention is 'foo'; expected one of 'self', 'additive'"),
        ({"pooling": "max"}, r"train\.pooling is 'max'; expected one of 'attention', 'average'"),
        ({"word_dropout": 1.0}, r"train\.word_dropout must be in \[0, 1\)"),
        ({"word_dropout": -0.1}, r"train\.word_dropout must be in \[0, 1\)"),
        ({"wide": False, "deep": False}, r"train\.wide and train\.deep cannot both be false"),
        ({"wide": "yes"}, r"train\.wide is 'yes' \(str\); expected bool"),
        (
            {"class_weight": "log"},
            r"train\.class_weight is 'log'; expected one of 'none', 'balanced', 'sqrt'",
        ),
        (
            {"distribution": "horovod"},
            r"train\.distribution is 'horovod'; expected one of 'none', 'mirrored', 'multi_worker'",
        ),
    ],
)
def test_invalid_train_values_name_the_file_and_the_key(values: dict, message: str) -> None:
    with pytest.raises(UserError, match=message) as raised:
        parse_section(TrainConfig, "train", values, source="my-params.yaml")
    assert str(raised.value).startswith("my-params.yaml: ")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "must sum below 1"),
        ({"val_fraction": 0.6, "test_fraction": 0.6}, "must sum below 1"),
        ({"val_fraction": 0.0}, r"prepare\.val_fraction must be between 0 and 1"),
        ({"test_fraction": 1.0}, r"prepare\.test_fraction must be between 0 and 1"),
        ({"min_class_count": 0}, r"prepare\.min_class_count must be at least 1"),
        ({"max_tokens": 2}, r"prepare\.max_tokens must be at least 3"),
        ({"min_token_count": 0}, r"prepare\.min_token_count must be at least 1"),
        ({"length_percentile": 0}, r"prepare\.length_percentile must be in \(0, 100\]"),
        ({"max_length_cap": 0}, r"prepare\.max_length_cap must be at least 1"),
        ({"subword_buckets": -1}, r"prepare\.subword_buckets must be 0 \(off\) or more"),
        ({"subword_min_n": 0}, r"prepare\.subword_min_n must be at least 1"),
        ({"subword_min_n": 6}, r"prepare\.subword_min_n must be .* at most prepare\.subword_max_n"),
        ({"subwords_per_word": 0}, r"prepare\.subwords_per_word must be at least 1"),
        ({"split": "random"}, r"prepare\.split is 'random'; expected one of 'stratified', 'group'"),
        ({"group_pattern": "(unclosed"}, r"prepare\.group_pattern is not a regular expression"),
    ],
)
def test_invalid_prepare_values_are_refused(values: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_section(PrepareConfig, "prepare", values)


@pytest.mark.parametrize("distribution", ["none", "mirrored", "multi_worker"])
def test_every_distribution_is_accepted(distribution: str) -> None:
    config = parse_section(TrainConfig, "train", {"distribution": distribution})
    assert config.distribution == distribution


def test_training_is_single_process_unless_asked() -> None:
    assert TrainConfig().distribution == "none"
    for params_file in ("params.yaml", "tests/fixtures/params.yaml"):
        assert load_section(TrainConfig, "train", REPO / params_file).distribution == "none"


def test_an_int_is_accepted_for_a_float() -> None:
    config = parse_section(TrainConfig, "train", {"learning_rate": 1})
    assert config.learning_rate == 1.0
    assert isinstance(config.learning_rate, float)


def test_a_section_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(UserError, match="section 'train' must be a mapping"):
        parse_section(TrainConfig, "train", [1, 2])


def test_configs_are_frozen() -> None:
    config = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3  # type: ignore[misc]


def test_missing_params_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    with pytest.raises(UserError, match="params file not found") as raised:
        read_params(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("trian:\n  epochs: 3\n", r"unknown section 'trian'; did you mean 'train'\?"),
        ("train: [unclosed\n", "not valid YAML"),
        ("- train\n- prepare\n", "expected a mapping of sections, got list"),
    ],
)
def test_bad_params_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message) as raised:
        read_params(path)
    assert str(path) in str(raised.value)


def test_every_field_has_help_text() -> None:
    for cls in SECTIONS.values():
        for field in dataclasses.fields(cls):
            assert field.metadata.get("help"), f"{cls.__name__}.{field.name} has no help"


def test_the_winning_recipe_is_the_default() -> None:
    train = load_section(TrainConfig, "train", REPO / "params.yaml")
    assert (train.wide, train.deep, train.class_weight) == (True, True, "sqrt")
    assert train.word_dropout == 0.4
    prepare = load_section(PrepareConfig, "prepare", REPO / "params.yaml")
    assert (prepare.subword_buckets, prepare.subword_min_n, prepare.subword_max_n) == (
        1 << 17,
        3,
        5,
    )
    assert (prepare.subwords_per_word, prepare.split) == (32, "stratified")
    assert train == TrainConfig() and prepare.subword_buckets == PrepareConfig().subword_buckets
