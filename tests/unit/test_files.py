from pathlib import Path

import pytest

from prodcat.io.files import atomic_path, read_json, write_json


def test_a_successful_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old", encoding="utf-8")
    with atomic_path(target) as temporary:
        assert temporary != target
        assert temporary.parent == target.parent
        temporary.write_text("new", encoding="utf-8")
        assert target.read_text(encoding="utf-8") == "old"  # untouched until the block ends
    assert target.read_text(encoding="utf-8") == "new"
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="killed"), atomic_path(target) as temporary:
        temporary.write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert target.read_text(encoding="utf-8") == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]


def test_a_failed_first_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out" / "metrics.json"
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_a_directory_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "export"
    target.mkdir()
    (target / "stale.txt").write_text("stale", encoding="utf-8")
    with atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "MLmodel").write_text("new", encoding="utf-8")
    assert [path.name for path in target.iterdir()] == ["MLmodel"]
    assert [path.name for path in tmp_path.iterdir()] == ["export"]


def test_a_failed_directory_write_keeps_the_old_directory(tmp_path: Path) -> None:
    target = tmp_path / "export"
    target.mkdir()
    (target / "MLmodel").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "MLmodel").write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert (target / "MLmodel").read_text(encoding="utf-8") == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["export"]


def test_a_leftover_temporary_is_cleared_first(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    with atomic_path(target) as temporary:
        temporary.write_text("first", encoding="utf-8")
    temporary.write_text("stale from a crash", encoding="utf-8")
    with atomic_path(target) as again:
        assert again == temporary
        assert not again.exists()
        again.write_text("fresh", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "fresh"


def test_temporary_name_keeps_the_suffix_and_is_hidden(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "model.keras") as temporary:
        assert temporary.suffix == ".keras"
        assert temporary.name.startswith(".")
        temporary.write_bytes(b"x")


def test_json_round_trip_keeps_non_ascii(tmp_path: Path) -> None:
    data = {"category": "électronique", "emoji": "👟", "rows": [1, 2.5, None], "ok": True}
    path = tmp_path / "nested" / "report.json"
    write_json(data, path)
    assert read_json(path) == data
    text = path.read_text(encoding="utf-8")
    assert "électronique" in text
    assert text.endswith("}\n")
