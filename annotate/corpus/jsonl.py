"""JSON Lines helpers: atomic writes and line-numbered reads (strict, see :mod:`annotate.jsonl`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from annotate import jsonl
from annotate.atomic import atomic_write_jsonl
from annotate.jsonl import JsonlError
from annotate.schema import SentenceRecord

#: How these readers name a line in messages: ``"<file>: line <n>: ..."``.
_LOCATION = "{path}: line {line}"


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records (dataclasses with ``to_dict`` or plain dicts) atomically; returns the count."""
    return atomic_write_jsonl(path, records)


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; a bad line raises :class:`JsonlError`."""
    return jsonl.iter_jsonl(path, location=_LOCATION)


def read_sentences(path: str | Path) -> list[SentenceRecord]:
    """Read a ``sentences.jsonl`` file; a malformed record raises :class:`JsonlError` naming its line."""
    return jsonl.read_jsonl(path, SentenceRecord.from_dict, bad_record="not a sentence record", location=_LOCATION)


__all__ = ["JsonlError", "iter_jsonl", "read_sentences", "write_jsonl"]
