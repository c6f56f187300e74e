"""Reading and writing the JSON Lines files push and pull work on.

Bad lines do not sink a file: each is reported with its file and line number and the
rest is read. Writes are atomic (temporary file + ``os.replace``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from annotate.atomic import atomic_write_jsonl
from annotate.schema import AnnotationRecord, PredictionRecord, SentenceRecord

T = TypeVar("T")


class RecordFileError(ValueError):
    """A records file cannot be used at all (missing, unreadable, or of an unknown kind)."""


@dataclass
class ReadResult(Generic[T]):
    """Records read from a file, plus one message per line that could not be used."""

    records: list[T] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_jsonl(path: str | Path, factory: Callable[[dict[str, Any]], T]) -> ReadResult[T]:
    """Read ``path`` line by line with ``factory`` (e.g. ``SentenceRecord.from_dict``)."""
    path = Path(path)
    if not path.is_file():
        raise RecordFileError(f"{path}: no such file")
    result: ReadResult[T] = ReadResult()
    with open(path, encoding="utf-8", errors="strict") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    if not isinstance(data, dict):
                        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
                    result.records.append(factory(data))
                except (ValueError, TypeError, KeyError) as exc:
                    result.errors.append(f"{path}:{number}: {exc}")
        except UnicodeDecodeError as exc:
            raise RecordFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return result


def detect_kind(path: str | Path) -> str:
    """``"sentences"``, ``"annotations"`` or ``"predictions"``, from the first record's keys."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    keys = set(json.loads(line))
                    break
            else:
                raise RecordFileError(f"{path}: the file is empty")
    except FileNotFoundError:
        raise RecordFileError(f"{path}: no such file") from None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise RecordFileError(f"{path}: the first record is not a JSON object ({exc})") from None
    if {"annotator", "target"} <= keys:
        return "annotations"
    if {"model_version", "probabilities"} <= keys:
        return "predictions"
    if {"sentence_id", "text", "mentions"} <= keys:
        return "sentences"
    raise RecordFileError(f"{path}: records are neither sentences, annotations nor predictions "
                          f"(first record has keys {sorted(keys)})")


READERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "sentences": SentenceRecord.from_dict,
    "annotations": AnnotationRecord.from_dict,
    "predictions": PredictionRecord.from_dict,
}


def write_jsonl(records: Iterable[Any], out: str | Path) -> int:
    """Write records (dataclasses with ``to_dict``, or dicts) atomically; return the count."""
    return atomic_write_jsonl(out, records)
