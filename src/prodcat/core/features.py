"""The model's inputs from normalised titles, one code path at training and at serving time.

Three kinds of features, each computed from the words of a title:

- word ids: each word's place in the vocabulary (:class:`prodcat.core.text.Vectorizer`);
- subword ids: the hashed character 3- to 5-grams of each word, fastText style, so that a word
  never seen in training (a new brand, a typo) still shares pieces with words that were;
- wide features: the baseline's TF-IDF of word 1-2-grams and ``char_wb`` 2-5-grams, recomputed
  from the fitted state exactly as scikit-learn computes it, without scikit-learn.

Each distinct word of a batch is looked up once: its subwords and its character n-grams depend
on the word alone (``char_wb`` pads each whitespace-separated word with spaces), so they are
cached per word and a batch's matrix is assembled with NumPy and SciPy. The fitted state is
plain JSON (no pickle) that ships with the exported model.
"""

from __future__ import annotations

import functools
import itertools
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from prodcat.core.text import Vectorizer, build_vectorizer

WORD_IDS = "word_ids"
SUBWORD_IDS = "subword_ids"
WIDE_FEATURES = "wide_features"
FORMAT = 1  # of the feature state's JSON
WORD_CACHE_SIZE = 1 << 18  # distinct words whose features a process keeps


# ----------------------------------------------------------------------------------- subwords


@dataclass(frozen=True)
class SubwordSettings:
    """How a word becomes hashed character n-grams: the n-grams of ``<word>`` from ``min_n`` to
    ``max_n`` characters, shortest first, at most ``per_word`` of them, each hashed with CRC-32
    into ids ``1..buckets`` (0 is "no n-gram"). ``buckets`` 0 turns subwords off."""

    min_n: int = 3
    max_n: int = 5
    buckets: int = 1 << 17
    per_word: int = 32

    @property
    def enabled(self) -> bool:
        return self.buckets > 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def word(self, word: str) -> tuple[int, ...]:
        """The subword ids of one word (cached)."""
        return _subword_ids(word, self.min_n, self.max_n, self.buckets, self.per_word)

    def encode(self, normalized_texts: Sequence[str], sequence_length: int) -> np.ndarray:
        """Subword ids, ``(len(texts), sequence_length, per_word)`` int32, 0 where there is no
        word or no further n-gram; the words are cut at ``sequence_length`` as word ids are."""
        distinct: dict[str, int] = {"": 0}  # row 0 of the table: no word
        rows = np.zeros((len(normalized_texts), sequence_length), dtype=np.int64)
        for row, text in enumerate(normalized_texts):
            words = text.split()[:sequence_length]
            if words:
                rows[row, : len(words)] = [distinct.setdefault(w, len(distinct)) for w in words]
        table = np.zeros((len(distinct), self.per_word), dtype=np.int32)
        for word, row in itertools.islice(distinct.items(), 1, None):
            ids = self.word(word)
            table[row, : len(ids)] = ids
        return table[rows]


@functools.lru_cache(maxsize=WORD_CACHE_SIZE)
def _subword_ids(word: str, min_n: int, max_n: int, buckets: int, cap: int) -> tuple[int, ...]:
    # CRC-32 rather than Python's hash(): the same ids in every process and on every machine.
    # The whole "<word>" is not one of them: the word embedding plays that part.
    marked = f"<{word}>"
    ids: list[int] = []
    for n in range(min_n, max_n + 1):
        for start in range(len(marked) - n + 1):
            ids.append(zlib.crc32(marked[start : start + n].encode("utf-8")) % buckets + 1)
            if len(ids) == cap:
                return tuple(ids)
    return tuple(ids)


# ----------------------------------------------------------------------------- wide (TF-IDF)

DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's: words of two characters or more
REPRODUCED = {  # the TfidfVectorizer settings this module computes as scikit-learn does
    "lowercase": True,
    "strip_accents": None,
    "preprocessor": None,
    "tokenizer": None,
    "stop_words": None,
    "binary": False,
    "use_idf": True,
    "sublinear_tf": False,
    "norm": "l2",
}


@dataclass(frozen=True)
class Occurrences:
    """The words of a batch of texts: each distinct word once, and every occurrence in order
    as (text, position of the word in ``words``)."""

    words: list[str]
    texts: np.ndarray  # int64, the text of each occurrence
    positions: np.ndarray  # int64, the word of each occurrence
    count: int  # texts in the batch

    @classmethod
    def of(cls, normalized_texts: Sequence[str]) -> Occurrences:
        import pandas as pd

        split = [text.split() for text in normalized_texts]
        lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
        flat = list(itertools.chain.from_iterable(split))
        positions, distinct = pd.factorize(pd.Series(flat, dtype=object), sort=False)
        return cls(
            words=list(distinct),
            texts=np.repeat(np.arange(len(split), dtype=np.int64), lengths),
            positions=positions.astype(np.int64),
            count=len(split),
        )


@dataclass(frozen=True)
class TfidfBlock:
    """One fitted ``TfidfVectorizer`` with the ``word`` or ``char_wb`` analyzer: its n-gram
    range, its terms in column order and their idf. Each text gets counts x idf, scaled to unit
    L2 norm, as scikit-learn's defaults compute them (:data:`REPRODUCED`)."""

    analyzer: str
    ngram_range: tuple[int, int]
    terms: tuple[str, ...]
    idf: np.ndarray  # float64, one per term
    token_pattern: str = DEFAULT_TOKEN_PATTERN
    _lookup: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.analyzer == "char_wb":
            lookup: Any = _CharLookup(self)
        elif self.analyzer == "word":
            lookup = _NgramLookup(self)
        else:
            raise ValueError(f"unsupported TF-IDF analyzer {self.analyzer!r}")
        object.__setattr__(self, "_lookup", lookup)

    @property
    def size(self) -> int:
        return len(self.terms)

    @classmethod
    def from_vectorizer(cls, vectorizer: Any) -> TfidfBlock:
        """The state of a fitted scikit-learn ``TfidfVectorizer``; refuses settings whose
        output this module would not reproduce."""
        found = {name: getattr(vectorizer, name) for name in REPRODUCED}
        if found != REPRODUCED or vectorizer.analyzer not in ("word", "char_wb"):
            raise ValueError(f"TF-IDF settings not reproducible at serving time: {found}")
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        return cls(
            analyzer=vectorizer.analyzer,
            ngram_range=(int(vectorizer.ngram_range[0]), int(vectorizer.ngram_range[1])),
            terms=tuple(terms),
            idf=np.asarray(vectorizer.idf_, dtype=np.float64),
            token_pattern=vectorizer.token_pattern,
        )

    def as_dict(self) -> dict:
        return {
            "analyzer": self.analyzer,
            "ngram_range": list(self.ngram_range),
            "token_pattern": self.token_pattern,
            "terms": list(self.terms),
            "idf": self.idf.tolist(),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> TfidfBlock:
        return cls(
            analyzer=state["analyzer"],
            ngram_range=(int(state["ngram_range"][0]), int(state["ngram_range"][1])),
            terms=tuple(state["terms"]),
            idf=np.asarray(state["idf"], dtype=np.float64),
            token_pattern=state["token_pattern"],
        )

    def entries(self, batch: Occurrences) -> tuple[np.ndarray, np.ndarray]:
        """(text, column) of every term occurrence in the batch; repeats are counts."""
        return self._lookup.entries(batch)


class _CharLookup:
    """``char_wb`` n-grams never cross a space: each word's known n-grams are found once and
    cached, and a text's are those of its words."""

    def __init__(self, block: TfidfBlock) -> None:
        self.index = {term: column for column, term in enumerate(block.terms)}
        self.ngram_range = block.ngram_range
        self.columns = functools.lru_cache(maxsize=WORD_CACHE_SIZE)(self._columns)

    def _columns(self, word: str) -> np.ndarray:
        """Columns of the known n-grams of one word."""
        grams = char_wb_ngrams(word.lower(), *self.ngram_range)
        index = self.index
        return np.fromiter((index[g] for g in grams if g in index), dtype=np.int64)

    def entries(self, batch: Occurrences) -> tuple[np.ndarray, np.ndarray]:
        return _per_occurrence(batch, self.columns)


class _NgramLookup:
    """Word n-grams may span words, so they are found on the batch's token stream, one n-gram
    length after the other, with NumPy: token ids of the known tokens, then at each length the
    id of each known n-gram prefix (a sorted table of ``prefix x tokens + next token`` keys)."""

    def __init__(self, block: TfidfBlock) -> None:
        self.tokens = re.compile(block.token_pattern).findall
        self.low, self.high = block.ngram_range
        split_terms = [term.split(" ") for term in block.terms]
        self.token_ids = {
            token: i
            for i, token in enumerate(dict.fromkeys(t for terms in split_terms for t in terms))
        }
        self.width = len(self.token_ids) + 1
        # Level n: known n-token prefixes, as sorted keys, their ids, and their term column.
        self.levels: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        prefix_ids = {(token,): i for token, i in self.token_ids.items()}
        self.unigram_columns = np.full(self.width, -1, dtype=np.int64)
        for column, terms in enumerate(split_terms):
            if len(terms) == 1:
                self.unigram_columns[self.token_ids[terms[0]]] = column
        for n in range(2, self.high + 1):
            keys, ids, columns = [], [], []
            level_ids: dict[tuple[str, ...], int] = {}
            by_terms = {tuple(terms): column for column, terms in enumerate(split_terms)}
            for terms in split_terms:
                if len(terms) < n:
                    continue
                prefix = tuple(terms[:n])
                if prefix in level_ids:
                    continue
                level_ids[prefix] = len(level_ids)
                keys.append(prefix_ids[prefix[:-1]] * self.width + self.token_ids[prefix[-1]])
                ids.append(level_ids[prefix])
                columns.append(by_terms.get(prefix, -1))
            order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
            self.levels.append(
                (
                    np.asarray(keys, dtype=np.int64)[order],
                    np.asarray(ids, dtype=np.int64)[order],
                    np.asarray(columns, dtype=np.int64)[order],
                )
            )
            prefix_ids = level_ids
        self.word_tokens = functools.lru_cache(maxsize=WORD_CACHE_SIZE)(self._word_tokens)

    def _word_tokens(self, word: str) -> np.ndarray:
        """Ids of the tokens of one word (-1: a token no term holds)."""
        ids = self.token_ids
        return np.fromiter(
            (ids.get(token, -1) for token in self.tokens(word.lower())), dtype=np.int64
        )

    def entries(self, batch: Occurrences) -> tuple[np.ndarray, np.ndarray]:
        texts, tokens = _per_occurrence(batch, self.word_tokens)
        rows, cols = [], []
        if self.low == 1:
            found = (tokens >= 0) & (self.unigram_columns[tokens] >= 0)
            rows.append(texts[found])
            cols.append(self.unigram_columns[tokens[found]])
        prefixes = tokens  # id of the known n-gram prefix starting at each token, or -1
        for n, (keys, ids, columns) in enumerate(self.levels, start=2):
            starts_here = len(tokens) - n + 1
            if starts_here <= 0 or not len(keys):
                break
            following = tokens[n - 1 :]
            here = np.flatnonzero(
                (prefixes[:starts_here] >= 0)
                & (following >= 0)
                & (texts[:starts_here] == texts[n - 1 :])
            )
            key = prefixes[here] * self.width + following[here]
            spot = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            known = keys[spot] == key
            here, spot = here[known], spot[known]
            prefixes = np.full(starts_here, -1, dtype=np.int64)
            prefixes[here] = ids[spot]
            if n >= self.low:
                term = columns[spot] >= 0
                rows.append(texts[here[term]])
                cols.append(columns[spot[term]])
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(rows), np.concatenate(cols)


def _per_occurrence(
    batch: Occurrences, per_word: Callable[[str], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Each word occurrence's values, computed once per distinct word: the text row of each
    value and the values, in the batch's order."""
    arrays = [per_word(word) for word in batch.words]
    starts, lengths = _ragged(arrays)
    flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
    return _expand(batch.texts, starts[batch.positions], lengths[batch.positions], flat)


def _ragged(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Where each array starts in their concatenation, and its length."""
    lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64), lengths


def _expand(
    owners: np.ndarray, starts: np.ndarray, lengths: np.ndarray, flat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``flat[starts[i] : starts[i] + lengths[i]]`` for every i, concatenated, each element
    paired with ``owners[i]``."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ends = np.cumsum(lengths)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(ends - lengths, lengths)
    return np.repeat(owners, lengths), flat[np.repeat(starts, lengths) + offsets]


def char_wb_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The ``char_wb`` n-grams of one word, as scikit-learn lists them: the word padded with a
    space on each side, every n-gram of each length, a word shorter than n counted once."""
    padded = f" {word} "
    grams = []
    for n in range(min_n, max_n + 1):
        offset = 0
        grams.append(padded[offset : offset + n])
        while offset + n < len(padded):
            offset += 1
            grams.append(padded[offset : offset + n])
        if offset == 0:
            break
    return grams


@dataclass(frozen=True)
class WideFeatures:
    """The baseline's features: TF-IDF blocks side by side (a ``FeatureUnion``), each
    normalised on its own."""

    blocks: tuple[TfidfBlock, ...]

    @property
    def size(self) -> int:
        return sum(block.size for block in self.blocks)

    @classmethod
    def from_union(cls, union: Any) -> WideFeatures:
        """The state of a fitted scikit-learn ``FeatureUnion`` of ``TfidfVectorizer``s."""
        return cls(tuple(TfidfBlock.from_vectorizer(step) for _, step in union.transformer_list))

    def as_dict(self) -> dict:
        return {"blocks": [block.as_dict() for block in self.blocks]}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> WideFeatures:
        return cls(tuple(TfidfBlock.from_dict(block) for block in state["blocks"]))

    def transform(self, normalized_texts: Sequence[str]) -> sp.csr_matrix:
        """``(len(texts), size)`` float32 CSR: what the fitted union's ``transform`` gives."""
        batch = Occurrences.of(normalized_texts)
        rows, cols, blocks = [], [], []
        offset = 0
        for number, block in enumerate(self.blocks):
            texts, columns = block.entries(batch)
            rows.append(texts)
            cols.append(columns + offset)
            blocks.append(np.full(len(texts), number, dtype=np.int64))
            offset += block.size
        counts = sp.csr_matrix(
            (np.ones(sum(map(len, rows))), (np.concatenate(rows), np.concatenate(cols))),
            shape=(batch.count, offset),
        )
        counts.sum_duplicates()  # counts, in canonical order
        return self._normalised(counts)

    def _normalised(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Counts x idf, scaled to unit L2 norm within each block of each row."""
        idf = np.concatenate([block.idf for block in self.blocks])
        edges = np.cumsum([block.size for block in self.blocks])[:-1]
        values = counts.data * idf[counts.indices]
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        block = sum((counts.indices >= edge).astype(np.int64) for edge in edges)
        cell = rows * len(self.blocks) + block
        squares = np.bincount(cell, weights=values**2, minlength=counts.shape[0] * len(self.blocks))
        values /= np.sqrt(squares[cell])
        return sp.csr_matrix(
            (values.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape
        )


# ------------------------------------------------------------------------------ the encoder


@dataclass(frozen=True)
class FeatureEncoder:
    """Normalised titles → the named inputs of the network: word ids and subword ids for the
    deep path, TF-IDF features for the wide path (each only if the model has that input)."""

    vectorizer: Vectorizer
    subwords: SubwordSettings | None = None
    wide: WideFeatures | None = None
    deep: bool = True

    @property
    def sequence_length(self) -> int:
        return self.vectorizer.sequence_length

    def encode(self, normalized_texts: Sequence[str]) -> dict[str, Any]:
        """``{name: array}``: int32 word and subword ids, float32 CSR wide features."""
        inputs: dict[str, Any] = {}
        if self.deep:
            inputs[WORD_IDS] = self.vectorizer(normalized_texts)
            if self.subwords is not None and self.subwords.enabled:
                inputs[SUBWORD_IDS] = self.subwords.encode(normalized_texts, self.sequence_length)
        if self.wide is not None:
            inputs[WIDE_FEATURES] = self.wide.transform(normalized_texts)
        return inputs

    def state(self) -> dict:
        """The JSON the exported model carries (the vocabulary ships as its own file)."""
        return {
            "format": FORMAT,
            "sequence_length": self.sequence_length,
            "deep": self.deep,
            "subwords": self.subwords.as_dict() if self.subwords else None,
            "wide": self.wide.as_dict() if self.wide else None,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], vocabulary: Sequence[str]) -> FeatureEncoder:
        """The encoder a model was trained with: :meth:`state` and its vocabulary."""
        if state.get("format") != FORMAT:
            raise ValueError(f"feature state format {state.get('format')!r}; expected {FORMAT}")
        subwords = state.get("subwords")
        wide = state.get("wide")
        return cls(
            vectorizer=build_vectorizer(vocabulary, state["sequence_length"]),
            subwords=SubwordSettings(**subwords) if subwords else None,
            wide=WideFeatures.from_dict(wide) if wide else None,
            deep=bool(state.get("deep", True)),
        )


@dataclass(frozen=True)
class SplitData:
    """One split as training reads it: the named model inputs (memory-mapped word and subword
    ids; the wide path's TF-IDF matrix where it is needed) and the label ids."""

    inputs: Mapping[str, Any]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def rows_of(inputs: Mapping[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """The given rows of every input (arrays and sparse matrices alike)."""
    return {name: value[rows] for name, value in inputs.items()}


def tensor_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs as a Keras model called directly takes them, all tensors: a SciPy sparse
    matrix becomes a ``tf.SparseTensor`` (``Model.predict`` converts them itself)."""
    import tensorflow as tf

    return {
        name: sparse_tensor(value) if sp.issparse(value) else tf.convert_to_tensor(value)
        for name, value in inputs.items()
    }


def sparse_tensor(matrix: sp.spmatrix) -> Any:
    """A SciPy sparse matrix as the ``tf.SparseTensor`` a sparse Keras input takes, its entries
    in row-major order."""
    import tensorflow as tf

    coo = sp.csr_matrix(matrix).tocoo()
    indices = np.stack([coo.row, coo.col], axis=1).astype(np.int64)
    return tf.SparseTensor(indices, coo.data.astype(np.float32), coo.shape)
