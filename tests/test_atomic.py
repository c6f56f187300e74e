"""Atomic writes: a failed write leaves the old file and no temporary file behind."""

import json

import pytest

from annotate.atomic import _umask, atomic_write_json, atomic_write_jsonl, atomic_write_text


def test_failed_jsonl_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.jsonl"
    assert atomic_write_jsonl(path, [{"a": 1}, {"a": 2}]) == 2

    def records():
        yield {"a": 3}
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write_jsonl(path, records())
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"a": 1}, {"a": 2}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_text_and_json_land_whole_with_plain_permissions(tmp_path):
    atomic_write_text(tmp_path / "sub" / "t.txt", "héllo")
    atomic_write_json(tmp_path / "d.json", {"k": "ü"})
    assert (tmp_path / "sub" / "t.txt").read_text(encoding="utf-8") == "héllo"
    assert json.loads((tmp_path / "d.json").read_text(encoding="utf-8")) == {"k": "ü"}
    # the permissions a plain open() gives, not mkstemp's 0600
    assert (tmp_path / "d.json").stat().st_mode & 0o777 == 0o666 & ~_umask()
