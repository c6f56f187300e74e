"""Read the report's inputs (JSON Lines of the shared record types) with line-precise errors.

A bad line never sinks the file: it is skipped and reported as a problem
``"<file>:<line>: <what is wrong>"``. A missing file, or a file with lines but no valid
record, raises :class:`ReportInputError`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import TypeVar

from annotate import jsonl
from annotate.report.scoring import expected_stance
from annotate.schema import AnnotationRecord, PredictionRecord, SentenceRecord

T = TypeVar("T")

#: Problems listed in an error message before "... and N more".
_MAX_LISTED = 5


class ReportInputError(ValueError):
    """An input file is missing or holds no usable record."""


def _not_a_file(path: Path, what: str) -> str:
    if path.is_dir():
        return f"{path}: is a directory, not a {what} file"
    return f"{path}: {what} file not found"


def read_jsonl(path: str | Path, parse: Callable[[dict], T], *, what: str) -> tuple[list[T], list[str]]:
    """Parse every line of ``path`` with ``parse``; returns ``(records, problems)``.

    Blank lines are ignored. ``parse`` raises (TypeError, ValueError, KeyError) on a bad
    record; the message is kept in the problem. Edge cases: :mod:`annotate.jsonl`.
    """
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(_not_a_file(path, what))
    problems: list[str] = []
    records = jsonl.read_jsonl(path, parse, errors=problems, error=ReportInputError,
                               bad_record=f"not a valid {what} record")
    n_lines = len(records) + len(problems)  # each non-blank line is one or the other
    if n_lines and not records:
        listed = "; ".join(problems[:_MAX_LISTED])
        more = f" ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise ReportInputError(f"{path}: no valid {what} record in {n_lines} line(s): {listed}{more}")
    return records, problems


def _known_fields(cls: type, extra: set[str]) -> Callable[[dict], dict]:
    """Drop keys the record type does not have (newer writers may add fields), noting them."""
    names = {f.name for f in fields(cls)}

    def keep(data: dict) -> dict:
        unknown = set(data) - names
        if unknown:
            extra.update(unknown)
            data = {k: v for k, v in data.items() if k in names}
        return data
    return keep


def _with_extra_note(path: str | Path, what: str, loaded: tuple[list[T], list[str]],
                     extra: set[str]) -> tuple[list[T], list[str]]:
    records, problems = loaded
    if extra:
        problems.append(f"{path}: ignored unknown {what} field(s): {', '.join(sorted(extra))}")
    return records, problems


def checked_prediction(record: PredictionRecord, *, labels: Sequence[str]) -> PredictionRecord:
    """``record`` with its probabilities rescaled to sum to 1, after checking it is usable:
    non-empty string ids, a number per label in ``labels`` summing to 1 within the tolerance,
    and ``label`` its most probable class. The same check for files (``slant report``) and
    for records handed to ``build_report``, so both give the same numbers.

    Raises:
        ValueError: naming what is wrong.
    """
    for name in ("sentence_id", "article_id", "target", "model_version"):
        if not isinstance(getattr(record, name), str) or not getattr(record, name):
            raise ValueError(f"{name} must be a non-empty string, not {getattr(record, name)!r}")
    if not isinstance(record.probabilities, dict):
        raise ValueError("probabilities must be an object of label -> probability")
    for label, value in record.probabilities.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"probability of {label!r} must be a number, not {value!r}")
    expected_stance(record.probabilities, labels=labels)  # validates keys and sum
    if record.label not in labels:
        raise ValueError(f"label {record.label!r} is not one of {list(labels)}")
    top = max(record.probabilities.values())
    if record.probabilities[record.label] < top:
        best = max(record.probabilities, key=record.probabilities.get)
        raise ValueError(f"label {record.label!r} is not the most probable class ({best!r} has {top:g})")
    relevance = getattr(record, "relevance", None)
    if relevance is not None and (isinstance(relevance, bool) or not isinstance(relevance, numbers.Real)
                                  or not 0.0 <= relevance <= 1.0):
        raise ValueError(f"relevance must be a probability in [0, 1] or absent, not {relevance!r}")
    # Sums within the tolerance are rescaled, so evidence never shows a probability above 1.
    total = sum(record.probabilities.values())
    return replace(record, probabilities={k: float(v) / total for k, v in record.probabilities.items()})


def _parse_prediction(labels: Sequence[str], keep: Callable[[dict], dict]) -> Callable[[dict], PredictionRecord]:
    def parse(data: dict) -> PredictionRecord:
        return checked_prediction(PredictionRecord.from_dict(keep(data)), labels=labels)
    return parse


def load_predictions(path: str | Path, *, labels: Sequence[str]) -> tuple[list[PredictionRecord], list[str]]:
    """PredictionRecords of ``path`` whose probabilities cover exactly ``labels`` and sum to 1.

    Unknown fields are ignored (one problem notes them); missing required fields are errors.
    """
    extra: set[str] = set()
    loaded = read_jsonl(path, _parse_prediction(labels, _known_fields(PredictionRecord, extra)), what="prediction")
    return _with_extra_note(path, "prediction", loaded, extra)


def load_annotations(path: str | Path) -> tuple[list[AnnotationRecord], list[str]]:
    """AnnotationRecords of ``path``: a ``.jsonl`` written by ``slant pull``, or a Label Studio
    JSON export (``.json``, e.g. ``seeds/gold/export.json``), flattened the way ``slant pull
    --from-file`` does. A label that is not a stance class makes its line a problem."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        from annotate.labels import load_label_set

        stance = load_label_set().stance
        extra: set[str] = set()
        keep = _known_fields(AnnotationRecord, extra)

        def parse(data: dict) -> AnnotationRecord:
            record = AnnotationRecord.from_dict(keep(data))
            if record.label is not None and record.label not in stance:
                raise ValueError(f"label {record.label!r} is not one of {list(stance)}")
            return record

        loaded = read_jsonl(path, parse, what="annotation")
        return _with_extra_note(path, "annotation", loaded, extra)
    if not path.is_file():
        raise ReportInputError(_not_a_file(path, "annotation export"))
    from annotate.labelstudio.pull import pull_from_file  # the Label Studio side, only when needed

    try:
        result = pull_from_file(path)
    except (ValueError, OSError) as exc:  # ExportFormatError is a ValueError naming file and task
        raise ReportInputError(str(exc)) from None
    if not result.records and result.errors:
        raise ReportInputError(f"{path}: no usable annotation: {'; '.join(result.errors[:5])}")
    return result.records, list(result.errors)


def load_sentences(path: str | Path) -> tuple[list[SentenceRecord], list[str]]:
    """SentenceRecords of ``path`` (as written by ``slant ingest``)."""
    extra: set[str] = set()
    keep = _known_fields(SentenceRecord, extra)
    return _with_extra_note(path, "sentence", read_jsonl(path, lambda d: SentenceRecord.from_dict(keep(d)),
                                                         what="sentence"), extra)


__all__ = ["ReportInputError", "load_annotations", "load_predictions", "load_sentences", "read_jsonl"]
