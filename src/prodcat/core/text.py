"""Text normalisation, the vocabulary and the encoding of texts into padded token ids.

Training and inference both go through :func:`normalize_text` and :func:`build_vectorizer`, so
a served model sees text exactly as the training data was seen.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
PAD_ID, OOV_ID = 0, 1  # their places at the head of every vocabulary (see fit_vocabulary)
_WORD_CATEGORIES = frozenset("LNM")  # letters, numbers and marks (vowel signs, accents)
# In ASCII the word characters are the letters and digits, and NFKC changes nothing: one byte
# translation does for most titles what the per-character loop below does for any.
_ASCII = bytes(range(128))
_ASCII_WORDS = bytes.maketrans(
    _ASCII, bytes(code if chr(code).isalnum() else 32 for code in _ASCII.lower())
)


def normalize_text(text: str, max_chars: int | None = None) -> str:
    """Unicode-normalised, lower-case words separated by single spaces.

    Accents and non-Latin letters are kept (they carry meaning in product names); punctuation,
    symbols and emoji become word breaks. With ``max_chars``, only the text's first
    ``max_chars`` characters count (``prepare.max_title_chars``): one runaway title cannot
    flood the vocabulary, and the served model reads the same cut.
    """
    if max_chars is not None:
        text = text[:max_chars]
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split())
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(
        char if unicodedata.category(char)[0] in _WORD_CATEGORIES else " " for char in folded
    )
    return " ".join(kept.split())


def fit_vocabulary(texts: Iterable[str], max_tokens: int, min_count: int = 1) -> list[str]:
    """Most frequent tokens first, ties broken alphabetically so the result is reproducible.

    The list starts with the padding and out-of-vocabulary tokens, as Keras' ``TextVectorization``
    expects, and has at most ``max_tokens`` entries. Tokens seen fewer than ``min_count`` times
    are left out, so the training texts themselves hold out-of-vocabulary tokens: otherwise the
    model never learns what an unknown word means, and meets its untrained embedding first on
    new titles.
    """
    counts = Counter(token for text in texts for token in text.split())
    ranked = sorted(
        (item for item in counts.items() if item[1] >= min_count),
        key=lambda item: (-item[1], item[0]),
    )
    return [PAD_TOKEN, OOV_TOKEN] + [token for token, _ in ranked[: max_tokens - 2]]


def choose_sequence_length(texts: Sequence[str], percentile: float, cap: int) -> int:
    """A length that covers most texts whole without padding everything to the longest one."""
    lengths = np.fromiter((len(text.split()) for text in texts), dtype=np.int64, count=len(texts))
    return int(min(cap, max(1, np.ceil(np.percentile(lengths, percentile)))))


def length_statistics(texts: Sequence[str]) -> dict[str, float]:
    """Token-count summary for the data report."""
    lengths = np.array([len(text.split()) for text in texts])
    return {
        "mean": round(float(lengths.mean()), 2),
        "p50": float(np.percentile(lengths, 50)),
        "p95": float(np.percentile(lengths, 95)),
        "max": int(lengths.max()),
    }


@dataclass(frozen=True)
class Vectorizer:
    """Maps normalised texts to padded token ids: each word's place in the vocabulary, the
    out-of-vocabulary id for a word it lacks, cut or padded to ``sequence_length`` words.

    What Keras' ``TextVectorization(split="whitespace")`` computes, in plain Python: a dictionary
    lookup per word costs a fraction of the layer's eager call, which dominated the cost of
    reading a batch of titles.
    """

    index: Mapping[str, int]
    sequence_length: int

    def __call__(self, normalized_texts: Sequence[str]) -> np.ndarray:
        length, index = self.sequence_length, self.index
        ids = np.zeros((len(normalized_texts), length), dtype=np.int32)
        for row, text in enumerate(normalized_texts):
            words = text.split()[:length]
            if words:
                ids[row, : len(words)] = [index.get(word, OOV_ID) for word in words]
        return ids


def build_vectorizer(vocabulary: Sequence[str], sequence_length: int) -> Vectorizer:
    """The vectorizer of a vocabulary whose first entries are the padding and OOV tokens."""
    if list(vocabulary[:2]) != [PAD_TOKEN, OOV_TOKEN]:
        raise ValueError("a vocabulary starts with the padding and out-of-vocabulary tokens")
    return Vectorizer({word: position for position, word in enumerate(vocabulary)}, sequence_length)


def encode_texts(vectorizer: Vectorizer, normalized_texts: Sequence[str]) -> np.ndarray:
    """Token ids, shape ``(len(texts), sequence_length)``, int32."""
    return vectorizer(normalized_texts)


def unknown_token_share(token_ids: np.ndarray) -> float:
    """Share of the real (non-padding) tokens that fell out of the vocabulary.

    Reported per split: well above the training share on new titles means the vocabulary misses
    what the catalog now sells.
    """
    real = token_ids != PAD_ID
    return float(np.count_nonzero(token_ids == OOV_ID) / max(1, np.count_nonzero(real)))


def vocabulary_slices(token_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Rows whose title holds a word the vocabulary lacks, and the rest, as boolean masks.

    The headline scores hide where a model loses: on the Myntra titles the network trails the
    TF-IDF baseline three times as much on titles holding an unknown word as on the others.
    """
    unknown = np.any(token_ids == OOV_ID, axis=1)
    return {"unknown_words": unknown, "known_words": ~unknown}


def known_words(vocabulary: Sequence[str]) -> frozenset[str]:
    """The words a vocabulary holds, without its padding and out-of-vocabulary tokens."""
    return frozenset(vocabulary) - {PAD_TOKEN, OOV_TOKEN}


def write_vocabulary(vocabulary: Sequence[str], path: Path) -> None:
    """One token per line; the first line is empty (the padding token)."""
    path.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")


def read_vocabulary(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def write_text_settings(max_title_chars: int, path: Path) -> None:
    """How raw text is read (the cut of ``prepare.max_title_chars``), for the served model."""
    path.write_text(json.dumps({"max_title_chars": max_title_chars}) + "\n", encoding="utf-8")


def read_text_settings(path: Path | None) -> int | None:
    """The title cut a model was trained with; None (no cut) for models exported without it."""
    if path is None or not path.is_file():
        return None
    return int(json.loads(path.read_text(encoding="utf-8"))["max_title_chars"])


def write_labels(labels: Sequence[str], path: Path) -> None:
    """Class names in label-id order, as JSON (never pickle)."""
    path.write_text(json.dumps(list(labels), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def read_labels(path: Path) -> list[str]:
    return list(json.loads(path.read_text(encoding="utf-8")))
