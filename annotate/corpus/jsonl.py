"""JSON Lines helpers: atomic writes and line-numbered reads."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from annotate.schema import SentenceRecord


class JsonlError(ValueError):
    """A JSON Lines file has a bad line (the message names the file and line)."""


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records (dataclasses with ``to_dict`` or plain dicts) atomically; returns the count.

    The file is written to a temporary file in the same folder and moved into place with
    ``os.replace``, so readers never see half a file and a crash leaves the old file intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for rec in records:
                data = rec.to_dict() if hasattr(rec, "to_dict") else rec
                fh.write(json.dumps(data, ensure_ascii=False) + "\n")
                n += 1
        # mkstemp creates 0600 files; give the file the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


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
