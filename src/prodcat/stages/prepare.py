"""Stage ``prepare``: catalog CSV → cleaned, split data, its word and subword ids, a data report."""

from __future__ import annotations

import logging
from pathlib import Path

from prodcat.core.config import PrepareConfig
from prodcat.core.preparation import PreparedData, prepare_catalog
from prodcat.core.text import write_labels, write_text_settings, write_vocabulary
from prodcat.io import layout
from prodcat.io.catalog import read_catalog
from prodcat.io.files import atomic_path, file_md5, write_array, write_json
from prodcat.io.params import load_section

logger = logging.getLogger(__name__)


def write_prepared(prepared: PreparedData, source_md5: str) -> None:
    """Write every output to a temporary name first, so a crash leaves no half-written file."""
    for name, split in prepared.splits.items():
        with atomic_path(layout.split_texts(name)) as temporary:
            split.to_csv(temporary, index=False)
        arrays = dict(zip(layout.split_arrays(name), prepared.arrays[name], strict=True))
        if name in prepared.subword_ids:
            arrays[layout.split_subwords(name)] = prepared.subword_ids[name]
        for path, array in arrays.items():
            with atomic_path(path) as temporary:
                write_array(array, temporary)
    with atomic_path(layout.VOCABULARY) as temporary:
        write_vocabulary(prepared.vocabulary, temporary)
    with atomic_path(layout.LABELS) as temporary:
        write_labels(prepared.labels, temporary)
    with atomic_path(layout.TEXT_SETTINGS) as temporary:
        write_text_settings(prepared.report["params"]["max_title_chars"], temporary)
    subwords = prepared.subwords.as_dict() if prepared.subwords else None
    write_json(subwords, layout.SUBWORDS)
    report = {**prepared.report, "source": {**prepared.report["source"], "md5": source_md5}}
    write_json(report, layout.DATA_REPORT)


def main(params_path: Path) -> None:
    config = load_section(PrepareConfig, "prepare", params_path)
    source = Path(config.path)
    frame = read_catalog(source, config.text_column, config.label_column, config.encoding)
    logger.info("cleaning, splitting and encoding %d rows", len(frame))
    prepared = prepare_catalog(frame, config, source=str(source))
    logger.info("writing %s", layout.PREPARED_DIR)
    write_prepared(prepared, file_md5(source))
    report = prepared.report
    logger.info(
        "prepared %d of %d rows in %d classes (train %d, val %d, test %d); dropped %s; "
        "sequence length %d",
        report["rows"]["kept"],
        report["source"]["rows"],
        report["classes"],
        report["rows"]["train"],
        report["rows"]["val"],
        report["rows"]["test"],
        {k: v for k, v in report["dropped"].items() if k != "rare_classes"},
        report["tokens"]["sequence_length"],
    )
