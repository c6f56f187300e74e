"""The shared JSON Lines reader (annotate.jsonl): strict and tolerant modes, edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotate.jsonl import JsonlError, iter_jsonl, read_jsonl


def _id(data: dict) -> int:
    return int(data["id"])  # KeyError / ValueError / TypeError on a bad record


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"id": 1}\n\n   \n{oops\n[1, 2]\n{"id": "x"}\r\n{"name": "no id"}\n{"id": 7}\r\n')
    return path


def test_tolerant_mode_collects_path_line_messages_and_keeps_the_rest(mixed: Path) -> None:
    errors: list[str] = []
    assert read_jsonl(mixed, _id, errors=errors, bad_record="not a record") == [1, 7]
    assert errors == [
        f"{mixed}:4: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{mixed}:5: expected a JSON object, got list",
        f"{mixed}:6: not a record: invalid literal for int() with base 10: 'x'",
        f"{mixed}:7: not a record: 'id'",
    ]


def test_strict_mode_raises_at_the_first_bad_line(mixed: Path) -> None:
    with pytest.raises(JsonlError, match=r"mixed\.jsonl:4: not valid JSON"):
        read_jsonl(mixed, _id)
    seen = []
    with pytest.raises(JsonlError):
        for number, record in iter_jsonl(mixed):
            seen.append((number, record))
    assert seen == [(1, {"id": 1})]  # blank lines 2-3 skipped, numbers 1-based


def test_non_object_line_is_an_error_even_without_parse(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n"text"\nnull\n', encoding="utf-8")
    with pytest.raises(JsonlError, match=r"a\.jsonl:2: expected a JSON object, got str"):
        read_jsonl(path)
    errors: list[str] = []
    assert read_jsonl(path, errors=errors) == [{"a": 1}]
    assert errors == [f"{path}:2: expected a JSON object, got str", f"{path}:3: expected a JSON object, got NoneType"]


def test_caller_chooses_the_exception_and_how_a_line_is_named(tmp_path: Path) -> None:
    class MyError(ValueError):
        pass

    path = tmp_path / "b.jsonl"
    path.write_text('{"id": 1}\n{"id": []}\n', encoding="utf-8")
    with pytest.raises(MyError, match=r"^.*b\.jsonl: line 2: bad: "):
        read_jsonl(path, _id, error=MyError, bad_record="bad", location="{path}: line {line}")


def test_missing_file_and_directory_raise_in_both_modes(tmp_path: Path) -> None:
    for errors in (None, []):
        with pytest.raises(JsonlError, match=r"nope\.jsonl: no such file"):
            read_jsonl(tmp_path / "nope.jsonl", errors=errors)
        with pytest.raises(JsonlError, match="cannot read"):
            read_jsonl(tmp_path, errors=errors)


def test_non_utf8_raises_in_both_modes_naming_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"id": 1}\n{"name": "caf\xe9"}\n')
    for errors in (None, []):
        with pytest.raises(JsonlError, match=r"latin1\.jsonl:2: not UTF-8 text \(invalid continuation byte at byte 23\)"):
            read_jsonl(path, errors=errors)


def test_empty_file_reads_as_no_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    errors: list[str] = []
    assert read_jsonl(path, errors=errors) == [] and errors == []


def test_a_byte_order_mark_does_not_cost_the_first_record(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": 1}\n{"id": 2}\n')
    errors: list[str] = []
    assert read_jsonl(path, _id, errors=errors) == [1, 2] and errors == []
    # Only a leading mark is dropped: one inside the file is still an error, named by line.
    path.write_bytes(b'{"id": 1}\n\xef\xbb\xbf{"id": 2}\n')
    with pytest.raises(JsonlError, match=r"bom\.jsonl:2: not valid JSON"):
        read_jsonl(path, _id)
