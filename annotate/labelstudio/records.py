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

from annotate import jsonl
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
    """Read ``path`` line by line with ``factory`` (e.g. ``SentenceRecord.from_dict``).

    Tolerant: each bad line is one error ``"<file>:<line>: ..."``; a missing or non-UTF-8
    file raises :class:`RecordFileError` (edge cases: :mod:`annotate.jsonl`).
    """
    result: ReadResult[T] = ReadResult()
    result.records = jsonl.read_jsonl(path, factory, errors=result.errors, error=RecordFileError)
    return result


def detect_kind(path: str | Path) -> str:
    """``"sentences"``, ``"annotations"`` or ``"predictions"``, from the first record's keys."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    keys = set(json.loads(line))
                    break
            else:
                raise RecordFileError(f"{path}: the file is empty")
    except IsADirectoryError:
        raise RecordFileError(f"{path}: is a directory, not a JSON Lines file") from None
    except OSError as exc:
        raise RecordFileError(jsonl.open_problem(path, exc)) from None
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


def read_prediction(data: dict[str, Any]) -> PredictionRecord:
    """A :class:`PredictionRecord` whose probabilities are usable (one number per stance label,
    summing to 1); ``ValueError`` says what is wrong (reported with the file and line)."""
    from annotate.labels import load_label_set
    from annotate.labelstudio.tasks import checked_probabilities

    record = PredictionRecord.from_dict(data)
    return checked_probabilities(record, labels=load_label_set(), where="prediction")


READERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "sentences": SentenceRecord.from_dict,
    "annotations": AnnotationRecord.from_dict,
    "predictions": read_prediction,
}


def write_jsonl(records: Iterable[Any], out: str | Path) -> int:
    """Write records (dataclasses with ``to_dict``, or dicts) atomically; return the count."""
    return atomic_write_jsonl(out, records)
