"""JSON Lines helpers: atomic writes and line-numbered reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from annotate.atomic import atomic_write_jsonl
from annotate.schema import SentenceRecord


class JsonlError(ValueError):
    """A JSON Lines file has a bad line (the message names the file and line)."""


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records (dataclasses with ``to_dict`` or plain dicts) atomically; returns the count."""
    return atomic_write_jsonl(path, records)


def iter_jsonl(path: str | Path):
    """Yield ``(line_number, object)`` for each non-blank line; bad JSON raises :class:`JsonlError`."""
    path = Path(path)
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise JsonlError(f"{path}: file not found") from None
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise JsonlError(f"{path}: line {lineno}: not valid JSON: {exc.msg}") from None


def read_sentences(path: str | Path) -> list[SentenceRecord]:
    """Read a ``sentences.jsonl`` file; a malformed record raises :class:`JsonlError` naming its line."""
    records = []
    for lineno, obj in iter_jsonl(path):
        if not isinstance(obj, dict):
            raise JsonlError(f"{path}: line {lineno}: expected a JSON object, got {type(obj).__name__}")
        try:
            records.append(SentenceRecord.from_dict(obj))
        except (TypeError, ValueError) as exc:
            raise JsonlError(f"{path}: line {lineno}: not a sentence record: {exc}") from None
    return records
