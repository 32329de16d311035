"""Reading ``params.yaml``: the whole file, or one section as its frozen config object."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml

from prodcat.core.config import SECTIONS, parse_section, suggest
from prodcat.core.errors import UserError

DEFAULT_PARAMS_PATH = Path("params.yaml")

ConfigT = TypeVar("ConfigT")


def read_params(path: Path = DEFAULT_PARAMS_PATH) -> dict[str, Any]:
    """Read the whole params file, checking only that it is a mapping of known sections."""
    if not path.is_file():
        raise UserError(f"{path}: params file not found; run from the repository root")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    for name in raw:
        if name not in SECTIONS:
            raise UserError(f"{path}: unknown section '{name}'{suggest(str(name), SECTIONS)}")
    return raw


def load_section(cls: type[ConfigT], name: str, path: Path = DEFAULT_PARAMS_PATH) -> ConfigT:
    """Build one section's config object from ``params.yaml``."""
    section = read_params(path).get(name) or {}
    return parse_section(cls, name, section, source=str(path))
