"""Writing stage outputs so that a crash never leaves a half-written file behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; move it into place only if the block succeeds.

    For a file the swap is one atomic rename. A directory cannot replace another in one rename:
    the old one is moved aside first and deleted after, so a crash in between leaves it beside
    the target under a ``.old-`` name rather than losing it. The temporary name keeps the suffix,
    for writers (such as Keras) that check it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")
    _remove(temporary)
    try:
        yield temporary
        if target.is_dir() and temporary.is_dir():
            aside = target.with_name(f".{target.name}.old-{os.getpid()}")
            _remove(aside)
            target.rename(aside)
            temporary.replace(target)
            _remove(aside)
        else:
            temporary.replace(target)
    finally:
        _remove(temporary)


def write_json(data: Any, target: Path) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")


def read_json(source: Path) -> Any:
    return json.loads(source.read_text(encoding="utf-8"))


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def file_md5(path: Path) -> str:
    """The same content hash DVC records for a file in ``dvc.lock``."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_array(array: np.ndarray, path: Path) -> None:
    """One array as ``.npy``: NumPy's own format, loaded without pickle and memory-mappable."""
    with path.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)


def read_encoded(
    paths: tuple[Path, Path], memory_map: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(token_ids, label_ids)`` of one split, from the two files of ``layout.split_arrays``.

    Memory-mapped, the arrays stay on disk and only the rows read are paged in, so a split larger
    than the RAM can still be streamed.
    """
    token_path, label_path = paths
    mode = "r" if memory_map else None
    return (
        np.load(token_path, mmap_mode=mode, allow_pickle=False),
        np.load(label_path, mmap_mode=mode, allow_pickle=False),
    )
