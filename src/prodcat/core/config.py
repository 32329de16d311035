"""Typed, frozen configuration: one dataclass per ``params.yaml`` section, validated when built.

Every stage reads only its own section, so ``dvc.yaml`` can list exactly the params a stage uses.
Field help lives in ``metadata["help"]``, beside the default it explains. Reading the file is
``prodcat.io.params``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from prodcat.core.errors import UserError

AttentionKind = Literal["self", "additive"]
PoolingKind = Literal["attention", "average"]
ClassWeighting = Literal["none", "balanced", "sqrt"]
SplitKind = Literal["stratified", "group"]
Distribution = Literal["none", "mirrored", "multi_worker"]


def _field(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class PrepareConfig:
    """How a catalog CSV becomes encoded train/validation/test arrays."""

    path: str = _field("data/raw/catalog.csv", "Catalog CSV to read, relative to the repo root.")
    text_column: str = _field("description", "Column holding the product text.")
    label_column: str = _field("category", "Column holding the category label.")
    encoding: str = _field("utf-8", "Text encoding of the CSV, e.g. 'latin-1' or 'cp1252'.")
    min_class_count: int = _field(
        10, "Classes with fewer rows after cleaning are dropped (and counted in the data report)."
    )
    drop_duplicates: bool = _field(
        True,
        "Keep only the first row of each normalised text, so no title is in two splits and the "
        "test scores measure unseen titles; false keeps repeats (counted before min_class_count).",
    )
    merge_label_variants: bool = _field(
        True,
        "Merge labels that differ only in case, spacing or Unicode form ('Footwear', "
        "'footwear ', 'FOOTWEAR') into their most frequent spelling; the data report lists each "
        "merge. False keeps them as separate classes.",
    )
    max_title_chars: int = _field(
        1000,
        "Titles are cut to this many characters before normalisation, in training and in the "
        "served model alike, so one runaway row cannot flood the vocabulary (cuts are counted "
        "in the data report).",
    )
    split: SplitKind = _field(
        "stratified",
        "'stratified': rows drawn at random, every class in every split in proportion. "
        "'group': titles grouped by prepare.group_pattern (by default their first word, the "
        "brand in most catalogs) and whole groups held out, so the test scores say how the "
        "model does on brands it never saw. The groups are shuffled with prepare.seed and "
        "taken in that order into test until they hold test_fraction of the rows, skipping a "
        "group that would overshoot that target by more than 5 % (one big brand cannot make "
        "up the test split); then validation, the same way, from the groups left. Validation "
        "and test rows of a class that training never sees are dropped and counted in the "
        "data report.",
    )
    group_pattern: str = _field(
        r"^\S+",
        "With split: group, a regular expression whose first match in the normalised title "
        "(lower case, words separated by single spaces) names the title's group; with a "
        "capture group, the first capture group names it. The default is the first word. A "
        "title without a match is a group of its own.",
    )
    val_fraction: float = _field(0.1, "Share of rows held out for validation (early stopping).")
    test_fraction: float = _field(0.1, "Share of rows held out for the final test metrics.")
    seed: int = _field(42, "Seed of the split (stratified draw, or the order of the groups).")
    max_tokens: int = _field(
        20000, "Vocabulary size, including the padding and out-of-vocabulary tokens."
    )
    min_token_count: int = _field(
        2,
        "Words seen fewer times in the training split become the out-of-vocabulary token, so "
        "training teaches the model what an unknown word means (1: keep every word).",
    )
    length_percentile: float = _field(
        99.9,
        "Sequences are padded or cut to this percentile of training text lengths. Cutting drops "
        "a text's last words, which in product titles are often the noun that names the category.",
    )
    max_length_cap: int = _field(128, "Upper bound on the sequence length, whatever the data.")
    subword_buckets: int = _field(
        1 << 17,
        "Hash buckets of the words' character n-grams (fastText subwords): each word also "
        "reads as the mean embedding of its n-grams, so a word never seen in training (a new "
        "brand, a typo) shares meaning with the words it has pieces in common with. More "
        "buckets, fewer collisions, a larger model (buckets x train.embedding_dim weights). "
        "0: words only.",
    )
    subword_min_n: int = _field(3, "Shortest character n-gram of a word (of '<word>').")
    subword_max_n: int = _field(5, "Longest character n-gram of a word (of '<word>').")
    subwords_per_word: int = _field(
        32,
        "At most this many n-grams per word, shortest first: long words keep their 3- and "
        "4-grams; the subword arrays take this many int32 ids per word and row.",
    )

    def __post_init__(self) -> None:
        _check(self.min_class_count >= 1, "prepare.min_class_count", "must be at least 1")
        _check(self.max_title_chars >= 1, "prepare.max_title_chars", "must be at least 1")
        _check(
            self.text_column != self.label_column,
            "prepare.label_column",
            "must differ from prepare.text_column",
        )
        _check(0 < self.val_fraction < 1, "prepare.val_fraction", "must be between 0 and 1")
        _check(0 < self.test_fraction < 1, "prepare.test_fraction", "must be between 0 and 1")
        _check(
            self.val_fraction + self.test_fraction < 1,
            "prepare.val_fraction + prepare.test_fraction",
            "must sum below 1 to leave rows for training",
        )
        _check(self.max_tokens >= 3, "prepare.max_tokens", "must be at least 3")
        _check(self.min_token_count >= 1, "prepare.min_token_count", "must be at least 1")
        _check(
            0 < self.length_percentile <= 100, "prepare.length_percentile", "must be in (0, 100]"
        )
        _check(self.max_length_cap >= 1, "prepare.max_length_cap", "must be at least 1")
        _check(self.subword_buckets >= 0, "prepare.subword_buckets", "must be 0 (off) or more")
        _check(
            1 <= self.subword_min_n <= self.subword_max_n,
            "prepare.subword_min_n",
            "must be at least 1 and at most prepare.subword_max_n",
        )
        _check(self.subwords_per_word >= 1, "prepare.subwords_per_word", "must be at least 1")
        try:
            re.compile(self.group_pattern)
        except re.error as error:
            raise UserError(
                f"prepare.group_pattern is not a regular expression ({error})"
            ) from None


@dataclass(frozen=True)
class BaselineConfig:
    """The linear model the network has to beat on the same split, and its wide path."""

    word_ngram_max: int = _field(2, "Longest word n-gram of the word TF-IDF features.")
    char_ngram_min: int = _field(2, "Shortest character n-gram (char_wb) of the TF-IDF features.")
    char_ngram_max: int = _field(5, "Longest character n-gram (char_wb) of the TF-IDF features.")
    c: float = _field(1.0, "Inverse regularisation strength of the LinearSVC.")
    seed: int = _field(42, "Seed of the LinearSVC's coordinate descent.")

    def __post_init__(self) -> None:
        _check(self.word_ngram_max >= 1, "baseline.word_ngram_max", "must be at least 1")
        _check(
            1 <= self.char_ngram_min <= self.char_ngram_max,
            "baseline.char_ngram_min",
            "must be at least 1 and at most baseline.char_ngram_max",
        )
        _check(self.c > 0, "baseline.c", "must be positive")


@dataclass(frozen=True)
class TrainConfig:
    """The network and how it is fitted."""

    experiment_name: str = _field("prodcat", "MLflow experiment that holds the training runs.")
    seed: int = _field(42, "Seed for weights, dropout and shuffling (ops run deterministically).")
    embedding_dim: int = _field(64, "Size of the word embeddings.")
    lstm_units: int = _field(64, "Units per direction of the bidirectional LSTM.")
    dropout: float = _field(0.2, "Dropout after the embeddings and before the classifier.")
    attention: AttentionKind = _field(
        "self", "'self': scaled dot-product self-attention; 'additive': Bahdanau-style."
    )
    pooling: PoolingKind = _field(
        "attention",
        "How attended states become one vector: learned 'attention' weights or 'average'.",
    )
    attention_heads: int = _field(
        8,
        "Heads of the attention pooling, each with its own weights over the words; their "
        "averages are concatenated (pooling: attention only). Explanations show the heads' "
        "mean weight; 1 head gives sharper ones (docs/benchmarks.md compares them).",
    )
    learning_rate: float = _field(
        0.006,
        "Learning rate of the deep path's optimizer for one replica (scaled by the replica "
        "count, see distribution): Adam that updates only the embedding rows a batch uses.",
    )
    batch_size: int = _field(512, "Training batch size per replica (see distribution).")
    epochs: int = _field(30, "Maximum number of epochs.")
    patience: int = _field(
        3, "Stop after this many epochs without a better validation loss; keep the best weights."
    )
    lr_plateau_factor: float = _field(
        0.3,
        "Multiply the learning rate by this when the validation loss has not improved for "
        "lr_plateau_patience epochs (Keras ReduceLROnPlateau); 1: a constant learning rate.",
    )
    lr_plateau_patience: int = _field(
        1, "Epochs without a better validation loss before the learning rate is reduced."
    )
    class_weight: ClassWeighting = _field(
        "sqrt",
        "Loss weight of each class in the deep path's training: 'none' (every row counts "
        "alike), 'balanced' (inversely to the class's training rows), 'sqrt' (inversely to "
        "their square root, scaled to average 1 over the rows: rare classes count more "
        "without the common ones being swamped; it raised macro F1 on the Myntra titles).",
    )
    word_dropout: float = _field(
        0.4,
        "Share of the words that training turns into the unknown word, each step, keeping "
        "their character n-grams: the deep path learns to read a word from its pieces, as it "
        "must for a brand or a typo it never saw (0: off).",
    )
    wide: bool = _field(
        True,
        "Include the wide path: the baseline's TF-IDF features and its LinearSVC weights, "
        "fitted by the baseline stage's exact solver and frozen; the deep path is trained "
        "alone, then both paths' logits are scaled and added (the scales fitted on the "
        "validation split's log loss).",
    )
    deep: bool = _field(
        True,
        "Include the deep path: word and subword embeddings, BiLSTM, attention and attention "
        "pooling. Without it there are no epochs and no attention to explain.",
    )
    intra_op_threads: int = _field(
        1,
        "Threads one TensorFlow op may use (0: every core). The LSTM's steps are small matrix "
        "products that gain nothing from splitting: with 1, the two cores run the two "
        "directions and the other ops side by side, for about a sixth less CPU per epoch here.",
    )
    inter_op_threads: int = _field(
        0, "TensorFlow ops that may run at once (0: as many as there are cores)."
    )
    distribution: Distribution = _field(
        "none",
        "'none': one process, the default path; 'mirrored': tf.distribute.MirroredStrategy over "
        "this machine's devices; 'multi_worker': MultiWorkerMirroredStrategy over the machines "
        "TF_CONFIG names (chief: `prodcat train`, others: `prodcat train-worker`). With a "
        "strategy, batch_size is per replica: the global batch is batch_size x replicas and the "
        "learning rate is learning_rate x replicas (linear scaling rule).",
    )

    def __post_init__(self) -> None:
        for name in ("embedding_dim", "lstm_units", "attention_heads", "batch_size", "epochs"):
            _check(getattr(self, name) >= 1, f"train.{name}", "must be at least 1")
        for name in ("intra_op_threads", "inter_op_threads"):
            _check(getattr(self, name) >= 0, f"train.{name}", "must be 0 (every core) or more")
        _check(0 <= self.dropout < 1, "train.dropout", "must be in [0, 1)")
        _check(0 <= self.word_dropout < 1, "train.word_dropout", "must be in [0, 1)")
        _check(self.wide or self.deep, "train.wide and train.deep", "cannot both be false")
        _check(self.learning_rate > 0, "train.learning_rate", "must be positive")
        _check(self.patience >= 0, "train.patience", "must be 0 or more")
        _check(0 < self.lr_plateau_factor <= 1, "train.lr_plateau_factor", "must be in (0, 1]")
        _check(self.lr_plateau_patience >= 0, "train.lr_plateau_patience", "must be 0 or more")


@dataclass(frozen=True)
class EvaluateConfig:
    """How the trained model is scored on the test split."""

    batch_size: int = _field(256, "Prediction batch size (does not change the results).")
    attention_examples: int = _field(
        4, "Right and as many wrong test items drawn in the attention heatmap (0: none)."
    )
    confused_pairs: int = _field(10, "Most confused (true, predicted) pairs to list.")
    target_precision: float = _field(
        0.99,
        "Accuracy the auto-accepted predictions must reach on validation: the review threshold "
        "is the lowest calibrated probability at which they do; below it a prediction goes to a "
        "person (needs_review). If no threshold reaches it, every prediction goes to review.",
    )

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, "evaluate.batch_size", "must be at least 1")
        _check(self.attention_examples >= 0, "evaluate.attention_examples", "must be 0 or more")
        _check(self.confused_pairs >= 0, "evaluate.confused_pairs", "must be 0 or more")
        _check(0 < self.target_precision <= 1, "evaluate.target_precision", "must be in (0, 1]")


@dataclass(frozen=True)
class ExportConfig:
    """The servable model and its registry entry."""

    registered_model_name: str = _field("prodcat", "Name of the model in the MLflow registry.")
    alias: str = _field("challenger", "Alias given to each newly registered version.")
    top_k: int = _field(3, "How many ranked categories the served model returns by default.")
    register_experiments: bool = _field(
        False,
        "Whether a `dvc exp run` registers its model. False: the experiment logs the model to its "
        "MLflow run only, and `prodcat register` registers it once applied, so throwaway "
        "experiments neither fill the registry nor move the alias.",
    )

    def __post_init__(self) -> None:
        _check(bool(self.registered_model_name.strip()), "export.registered_model_name", "is empty")
        _check(bool(self.alias.strip()), "export.alias", "is empty")
        _check(self.top_k >= 1, "export.top_k", "must be at least 1")


GateMetric = Literal["macro_f1", "accuracy", "weighted_f1"]


@dataclass(frozen=True)
class PromoteConfig:
    """The quality gate a registered version must pass to become ``champion``."""

    metric: GateMetric = _field("macro_f1", "Test metric that decides between two versions.")
    min_delta: float = _field(
        0.0, "How much better than the champion the candidate must be (0: at least as good)."
    )
    max_loss_to_baseline: float = _field(
        0.01,
        "How far the candidate's gate metric may fall below the TF-IDF baseline trained and "
        "tested on the same split in the same run (0: it must at least match the baseline).",
    )
    min_accuracy: float = _field(0.8, "Absolute floor on the candidate's test accuracy.")
    min_macro_f1: float = _field(0.75, "Absolute floor on the candidate's test macro F1.")
    champion_alias: str = _field(
        "champion", "Alias of the version that is served; the candidate is export.alias."
    )

    def __post_init__(self) -> None:
        _check(-1 < self.min_delta < 1, "promote.min_delta", "must be between -1 and 1")
        _check(
            -1 < self.max_loss_to_baseline <= 1,
            "promote.max_loss_to_baseline",
            "must be in (-1, 1]",
        )
        for name in ("min_accuracy", "min_macro_f1"):
            _check(0 <= getattr(self, name) <= 1, f"promote.{name}", "must be between 0 and 1")
        _check(bool(self.champion_alias.strip()), "promote.champion_alias", "is empty")


@dataclass(frozen=True)
class MonitorConfig:
    """When a batch of new titles has drifted from the serving model's training data."""

    experiment_name: str = _field(
        "prodcat-monitoring", "MLflow experiment that holds one run per drift report."
    )
    max_unknown_word_increase: float = _field(
        0.1,
        "Alert when the share of titles holding a word the model never learned rises by more "
        "than this over the validation split's (0.1: ten percentage points).",
    )
    max_length_psi: float = _field(
        0.2, "Alert when the population stability index of the titles' word counts exceeds this."
    )
    max_category_psi: float = _field(
        0.2, "Alert when the population stability index of the predicted categories exceeds this."
    )
    category_bins: int = _field(
        20,
        "The predicted-category index compares the validation split's most common categories "
        "one by one and pools the rest, so that sampling noise over many rare categories does "
        "not raise it.",
    )
    max_confidence_drop: float = _field(
        0.05, "Alert when the mean calibrated probability falls by more than this."
    )
    max_review_increase: float = _field(
        0.1, "Alert when the share of titles sent to review rises by more than this."
    )
    min_rows: int = _field(
        500, "Batches with fewer scored titles are reported but never alert: too few to judge."
    )

    def __post_init__(self) -> None:
        _check(bool(self.experiment_name.strip()), "monitor.experiment_name", "is empty")
        for name in ("max_unknown_word_increase", "max_confidence_drop", "max_review_increase"):
            _check(0 < getattr(self, name) <= 1, f"monitor.{name}", "must be in (0, 1]")
        for name in ("max_length_psi", "max_category_psi"):
            _check(getattr(self, name) > 0, f"monitor.{name}", "must be positive")
        _check(self.category_bins >= 1, "monitor.category_bins", "must be at least 1")
        _check(self.min_rows >= 1, "monitor.min_rows", "must be at least 1")


@dataclass(frozen=True)
class TrackingConfig:
    """How commands use the MLflow store; read by the CLI, no stage's output depends on it."""

    sqlite_timeout_seconds: float = _field(
        60.0,
        "How long a command waits for another process's lock on the default SQLite store "
        "(mlflow.db) before failing with one line naming the lock. A tracking server's "
        "timeout is MLFLOW_HTTP_REQUEST_TIMEOUT's.",
    )

    def __post_init__(self) -> None:
        _check(
            0 < self.sqlite_timeout_seconds <= 3600,
            "tracking.sqlite_timeout_seconds",
            "must be in (0, 3600]",
        )


SECTIONS: dict[str, type] = {
    "prepare": PrepareConfig,
    "baseline": BaselineConfig,
    "train": TrainConfig,
    "evaluate": EvaluateConfig,
    "export": ExportConfig,
    "promote": PromoteConfig,
    "monitor": MonitorConfig,
    "tracking": TrackingConfig,
}

ConfigT = TypeVar("ConfigT")


def _check(ok: bool, key: str, problem: str) -> None:
    if not ok:
        raise UserError(f"{key} {problem}")


def parse_section(
    cls: type[ConfigT], name: str, values: Any, source: str = "params.yaml"
) -> ConfigT:
    """Validate a mapping into a frozen config object; unknown keys get a suggestion."""
    if not isinstance(values, dict):
        raise UserError(f"{source}: section '{name}' must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    for key in values:
        if key not in fields:
            raise UserError(f"{source}: unknown key '{name}.{key}'{suggest(str(key), fields)}")
    coerced = {
        key: _coerce(value, hints[key], f"{name}.{key}", source) for key, value in values.items()
    }
    try:
        return cls(**coerced)
    except UserError as error:
        raise UserError(f"{source}: {error}") from None


def _coerce(value: Any, expected: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(expected)
    if origin is Literal:
        choices = typing.get_args(expected)
        if value not in choices:
            allowed = ", ".join(repr(choice) for choice in choices)
            raise UserError(f"{source}: {key} is {value!r}; expected one of {allowed}")
        return value
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"unsupported config type for {key}: {expected}")
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected in (int, float, str, bool) and (
        not isinstance(value, expected) or (expected is not bool and isinstance(value, bool))
    ):
        raise UserError(
            f"{source}: {key} is {value!r} ({type(value).__name__}); expected {expected.__name__}"
        )
    return value


def suggest(word: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(sorted(known))}"
