from pathlib import Path

import pytest

from prodcat.files import atomic_path, read_json, write_json


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["metrics.json"]


def test_a_directory_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "export"
    target.mkdir()
    (target / "stale.txt").write_text("stale", encoding="utf-8")
    with atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "MLmodel").write_text("new", encoding="utf-8")
    assert sorted(path.name for path in target.iterdir()) == ["MLmodel"]


def test_temporary_name_keeps_the_suffix(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "model.keras") as temporary:
        assert temporary.suffix == ".keras"
        temporary.write_bytes(b"x")


def test_json_round_trip_keeps_non_ascii(tmp_path: Path) -> None:
    data = {"category": "électronique", "rows": [1, 2]}
    write_json(data, tmp_path / "report.json")
    assert read_json(tmp_path / "report.json") == data
    assert "électronique" in (tmp_path / "report.json").read_text(encoding="utf-8")
