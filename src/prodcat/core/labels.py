"""Labels that mean one thing: spellings of one category merged, look-alikes and conflicting
titles found for the data report. Pure functions over pandas Series and frames."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable

import pandas as pd

REPORT_SAMPLE = 20  # look-alike pairs and conflicting titles listed in the data report
MIN_EDIT_LENGTH = 4  # shorter labels ("S", "XL", "Top") are one edit from too much


def label_key(label: str) -> str:
    """What a label means once case, whitespace and Unicode form (NFKC) no longer differ."""
    return " ".join(unicodedata.normalize("NFKC", label).casefold().split())


def merge_label_variants(labels: pd.Series) -> tuple[pd.Series, list[dict]]:
    """Each label replaced by the most frequent spelling of its :func:`label_key`.

    Returns the merged labels and, per merged group, the name chosen and every spelling with
    its row count (most rows first; ties by spelling). Empty labels stay empty.
    """
    counts = labels[labels != ""].value_counts()
    groups: dict[str, dict[str, int]] = defaultdict(dict)
    for spelling, rows in counts.items():
        groups[label_key(str(spelling))][str(spelling)] = int(rows)
    rename: dict[str, str] = {}
    merges = []
    for spellings in groups.values():
        if len(spellings) < 2:
            continue
        ranked = sorted(spellings.items(), key=lambda item: (-item[1], item[0]))
        name = ranked[0][0]
        rename.update({spelling: name for spelling in spellings if spelling != name})
        merges.append({"into": name, "spellings": dict(ranked)})
    merges.sort(key=lambda merge: merge["into"])
    return (labels.replace(rename) if rename else labels), merges


def lookalike_labels(labels: Iterable[str]) -> list[dict]:
    """Pairs of distinct labels that look like variants of one another, without merging them:
    a singular and its plural, or two spellings one edit apart (e.g. a typo).

    Quadratic in nothing: pairs one edit apart share a string with one character deleted.
    """
    keys: dict[str, str] = {}
    for label in sorted(set(labels)):
        keys.setdefault(label_key(label), label)
    found: dict[tuple[str, str], str] = {}
    for key, label in keys.items():
        for plural in (key + "s", key + "es", key[:-1] + "ies" if key.endswith("y") else None):
            if plural in keys and plural != key:
                found[(label, keys[plural])] = "singular and plural"
    by_deletion: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        if len(key) >= MIN_EDIT_LENGTH:
            for variant in {key} | {key[:at] + key[at + 1 :] for at in range(len(key))}:
                by_deletion[variant].append(key)
    for group in by_deletion.values():
        for first in group:
            for second in group:
                pair = tuple(sorted((keys[first], keys[second])))
                if first < second and pair not in found and one_edit_apart(first, second):
                    found[pair] = "one edit apart"  # type: ignore[index]
    return [
        {"labels": list(pair), "why": why}
        for pair, why in sorted(found.items(), key=lambda i: i[0])
    ]


def one_edit_apart(first: str, second: str) -> bool:
    """Whether one insertion, deletion or substitution turns ``first`` into ``second``."""
    if abs(len(first) - len(second)) > 1 or first == second:
        return False
    if len(first) > len(second):
        first, second = second, first
    at = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), None)
    if at is None:
        return True  # second is first plus one trailing character
    if len(first) == len(second):
        return first[at + 1 :] == second[at + 1 :]
    return first[at:] == second[at + 1 :]


def conflicting_titles(texts: pd.Series, labels: pd.Series, sample: int = REPORT_SAMPLE) -> dict:
    """Identical (normalised) titles filed under more than one label: how many, in how many
    rows, and the first ``sample`` of them with their labels' row counts."""
    frame = pd.DataFrame({"text": texts.to_numpy(), "label": labels.to_numpy()})
    label_counts = frame.groupby("text", sort=True)["label"].nunique()
    conflicting = label_counts[label_counts > 1].index
    rows = frame[frame["text"].isin(conflicting)]
    listed = [
        {
            "text": str(text),
            "labels": {
                str(k): int(v) for k, v in group["label"].value_counts().sort_index().items()
            },
        }
        for text, group in rows[rows["text"].isin(conflicting[:sample])].groupby("text")
    ]
    return {"titles": len(conflicting), "rows": len(rows), "sample": listed}


def _row_counts(labels: pd.Series) -> dict[str, int]:
    return {str(label): int(rows) for label, rows in labels.value_counts().sort_index().items()}
