"""Where the stages put what they hand to each other; ``dvc.yaml`` lists the same paths.

Relative to the repository root, where DVC runs every stage.
"""

from pathlib import Path

PREPARED_DIR = Path("data/prepared")
SPLITS = ("train", "val", "test")
VOCABULARY = PREPARED_DIR / "vocab.txt"
LABELS = PREPARED_DIR / "labels.json"
TEXT_SETTINGS = PREPARED_DIR / "text.json"  # how raw text is read; shipped with the model
SUBWORDS = PREPARED_DIR / "subwords.json"  # how words became subword ids (null: none)
DATA_REPORT = PREPARED_DIR / "data_report.json"

BASELINE = Path("reports/baseline.json")
# The fitted baseline, which is also the network's wide path: its TF-IDF state (JSON) and the
# LinearSVC's weights, one row per class in label-id order.
BASELINE_DIR = Path("models/baseline")
WIDE_FEATURES = BASELINE_DIR / "tfidf.json"
WIDE_WEIGHTS = (BASELINE_DIR / "coef.npy", BASELINE_DIR / "intercept.npy")

MODEL = Path("models/model.keras")
# Written by train beside the model, shipped by export: how titles become the model's inputs
# (sequence length, subword settings, the wide path's TF-IDF state).
FEATURES = Path("models/features.json")
# Written by evaluate, shipped by export with the model: its temperature and review threshold,
# and the statistics of its training data that `prodcat drift` compares a batch with.
CALIBRATION = Path("models/calibration.json")
DRIFT_REFERENCE = Path("models/drift_reference.json")
TRAINING_RUN = Path("models/run.json")
HISTORY = Path("reports/history.csv")

METRICS = Path("reports/metrics.json")  # the headline, flat: what `dvc metrics show` lists
EVALUATION = Path("reports/evaluation.json")  # every score, slices and the baseline's included
PER_CLASS = Path("reports/per_class.json")
CONFUSION = Path("reports/confusion.csv")
CONFUSED_PAIRS = Path("reports/confused_pairs.csv")
PER_CLASS_F1 = Path("reports/per_class_f1.csv")
CLASS_DISTRIBUTION = Path("reports/class_distribution.csv")
RELIABILITY = Path("reports/reliability.csv")  # calibrated confidence against accuracy, per bin
COVERAGE = Path("reports/coverage.csv")  # share auto-accepted against their accuracy
REPORT_TABLES = {
    "confusion": CONFUSION,
    "per_class_f1": PER_CLASS_F1,
    "confused_pairs": CONFUSED_PAIRS,
    "class_distribution": CLASS_DISTRIBUTION,
    "reliability": RELIABILITY,
    "coverage": COVERAGE,
}
PLOTS_DIR = Path("reports/plots")  # PNGs: the same pictures the MLflow run shows

MODEL_CARD = Path("models/MODEL_CARD.md")
EXPORT_DIR = Path("models/export")
REGISTERED = Path("models/registered.json")


def split_texts(split: str) -> Path:
    """The cleaned text and label of one split, for baselines, evaluation and lineage."""
    return PREPARED_DIR / f"{split}.csv"


def split_arrays(split: str) -> tuple[Path, Path]:
    """The encoded token ids and label ids of one split, as ``.npy`` files.

    One array per file, so training can memory-map them and stream batches from disk.
    """
    return PREPARED_DIR / f"{split}.token_ids.npy", PREPARED_DIR / f"{split}.label_ids.npy"


def split_subwords(split: str) -> Path:
    """The subword ids of one split, ``(rows, sequence length, subwords per word)``, ``.npy``."""
    return PREPARED_DIR / f"{split}.subword_ids.npy"
