"""Record types shared by every stage; the JSON forms are documented in ``docs/schema.md``.

Files are JSON Lines, one record per line. Offsets are character offsets (Python ``str``
indices): mention offsets are relative to the sentence ``text``; sentence ``start``/``end``
are relative to the original (uncleaned) article text.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mention:
    """One mention of a political actor inside a sentence."""

    actor: str  # canonical actor id from the registry, e.g. "pakistan"
    text: str  # the surface form as written, e.g. "Islamabad"
    start: int  # offset into the sentence text
    end: int


@dataclass
class SentenceRecord:
    """One sentence of one article: a line of ``sentences.jsonl`` and one Label Studio task."""

    sentence_id: str  # stable: derived from article id + content (+ occurrence for repeats)
    article_id: str
    index: int  # position of the sentence in the cleaned article, from 0
    text: str
    start: int  # offsets of the sentence in the original article text
    end: int
    context_before: str = ""
    context_after: str = ""
    mentions: list[Mention] = field(default_factory=list)
    title: str = ""
    source: str = ""
    # per article (the same on each of its sentences): lines cleaning removed whole, by rule
    removed_lines: dict[str, int] = field(default_factory=dict)

    def actors(self) -> list[str]:
        """Actor ids mentioned, in order of first mention, without repeats."""
        return list(dict.fromkeys(m.actor for m in self.mentions))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SentenceRecord:
        """Build from a JSON object; ``ValueError`` naming the field when a value has the
        wrong type or a mention's offsets fall outside the text (readers report the line)."""
        data = _known_fields(cls, data)
        for name in ("sentence_id", "article_id", "text"):
            if name in data and not isinstance(data[name], str):
                raise ValueError(f"{name} must be a string, not {data[name]!r}")
        for name in ("sentence_id", "article_id"):
            if name in data and not data[name]:
                raise ValueError(f"{name} must not be empty")
        for name in ("context_before", "context_after", "title", "source"):
            if not isinstance(data.get(name, ""), str):
                raise ValueError(f"{name} must be a string, not {data[name]!r}")
        for name in ("index", "start", "end"):
            if name in data and (isinstance(data[name], bool) or not isinstance(data[name], int)):
                raise ValueError(f"{name} must be an integer, not {data[name]!r}")
        removed = data.get("removed_lines", {})
        if not isinstance(removed, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in removed.items()
        ):
            raise ValueError(f"removed_lines must map rule names to line counts, not {removed!r}")
        mentions = data.get("mentions", [])
        if not isinstance(mentions, list) or not all(isinstance(m, dict) for m in mentions):
            raise ValueError("mentions must be a list of objects")
        data["mentions"] = [Mention(**m) for m in mentions]
        for m in data["mentions"]:
            if not (isinstance(m.actor, str) and isinstance(m.text, str) and isinstance(m.start, int)
                    and isinstance(m.end, int) and 0 <= m.start <= m.end <= len(data.get("text", ""))):
                raise ValueError(f"mention {asdict(m)} is not an actor id and text with offsets inside the sentence")
        return cls(**data)


@dataclass
class AnnotationRecord:
    """One label by one annotator for one (task, target): a line of ``annotations.jsonl``."""

    task_id: int | None
    sentence_id: str
    article_id: str
    target: str  # actor id, or "engagement"
    label: str | None  # a stance class, or None when skipped / off target / left blank
    annotator: str  # Label Studio user (email), never invented
    annotation_id: int | None = None
    off_target: bool = False  # "this mention is not that actor" / "not about engagement"
    status: str = "submitted"  # submitted | skipped | cancelled
    ground_truth: bool = False
    created_at: str | None = None
    updated_at: str | None = None
    lead_time: float | None = None
    text: str = ""
    source: str = ""
    mentions: list[Mention] = field(default_factory=list)  # the target's mentions in the sentence

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def recency(self) -> tuple[float, int]:
        """Sort key, later annotations larger: (``updated_at`` or else ``created_at`` as a UTC
        instant, annotation id). Timestamps are compared as instants, not as strings, so
        ``...T10:00:00+02:00`` is earlier than ``...T09:00:00Z``; a timestamp without an offset
        counts as UTC (Label Studio writes UTC). A missing or unreadable time sorts first, and
        equal times fall back to the annotation id (missing = -1)."""
        return (_instant(self.updated_at or self.created_at),
                self.annotation_id if self.annotation_id is not None else -1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnnotationRecord:
        """Build from a JSON object; ``ValueError`` naming the field when a value has the
        wrong type (a null annotator would merge unknown people into one voter, the string
        ``"false"`` would count as true), so readers report and skip the line."""
        data = _known_fields(cls, data)
        for name in ("sentence_id", "article_id", "target", "annotator"):
            if name in data and (not isinstance(data[name], str) or not data[name]):
                raise ValueError(f"{name} must be a non-empty string, not {data[name]!r}")
        for name in ("label", "created_at", "updated_at"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ValueError(f"{name} must be a string or null, not {data[name]!r}")
        for name in ("status", "text", "source"):
            if name in data and not isinstance(data[name], str):
                raise ValueError(f"{name} must be a string, not {data[name]!r}")
        for name in ("task_id", "annotation_id"):
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be an integer or null, not {value!r}")
        for name in ("off_target", "ground_truth"):
            if name in data and not isinstance(data[name], bool):
                raise ValueError(f"{name} must be true or false, not {data[name]!r}")
        lead_time = data.get("lead_time")
        if lead_time is not None and (isinstance(lead_time, bool) or not isinstance(lead_time, (int, float))):
            raise ValueError(f"lead_time must be a number or null, not {lead_time!r}")
        mentions = data.get("mentions", [])
        if not isinstance(mentions, list) or not all(isinstance(m, dict) for m in mentions):
            raise ValueError("mentions must be a list of objects")
        data["mentions"] = [Mention(**m) for m in mentions]
        return cls(**data)


@dataclass
class PredictionRecord:
    """A model's stance for one (sentence, target): a line of ``predictions.jsonl``."""

    sentence_id: str
    article_id: str
    target: str
    label: str
    probabilities: dict[str, float]  # one entry per stance class, summing to 1
    model_version: str
    # P(the sentence is about the target's issue): engagement pairs of a model with a relevance
    # head; None (and left out of the JSON line) otherwise.
    relevance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["relevance"] is None:
            del data["relevance"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictionRecord:
        return cls(**_known_fields(cls, data))


def unique_sentences(records: Iterable[SentenceRecord]) -> tuple[list[SentenceRecord], int]:
    """``(records with each sentence id once, how many repeats were dropped)``; the first
    record of an id is kept (two sentences files concatenated repeat every id)."""
    records = list(records)
    first: dict[str, SentenceRecord] = {}
    for record in records:
        first.setdefault(record.sentence_id, record)
    return list(first.values()), len(records) - len(first)


def records_of(value: Any, cls: type, *, name: str) -> list:
    """``value`` as a list of ``cls`` records, for API functions that take records the way the
    CLI takes files: a path (``str`` / ``PathLike``: a JSON Lines file, strict, errors name the
    file and line), an iterable of ``cls`` records, or of dicts (``cls.from_dict``).

    Raises:
        TypeError: naming ``name`` when ``value`` is none of these (a single record, a
            ``PullResult`` instead of its ``records``, ...).
        annotate.jsonl.JsonlError: a path that is missing or holds a bad line.
    """
    from annotate.jsonl import JsonlError, read_jsonl

    if isinstance(value, (str, os.PathLike)):
        return read_jsonl(value, cls.from_dict, bad_record=f"not a {cls.__name__}")
    if isinstance(value, (cls, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a path or an iterable of {cls.__name__}s (or dicts), "
                        f"not {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, cls):
            out.append(item)
        elif isinstance(item, Mapping):
            try:
                out.append(cls.from_dict(dict(item)))
            except (TypeError, ValueError, KeyError) as exc:
                raise JsonlError(f"{name}[{i}]: not a {cls.__name__}: {exc}") from None
        else:
            raise TypeError(f"{name}[{i}] is a {type(item).__name__}, not a {cls.__name__} (or dict)")
    return out


_warned_unknown: set[tuple[str, frozenset[str]]] = set()


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without keys ``cls`` does not have, so files from a newer Slant that adds a
    field still read; each new set of unknown fields is logged once. Missing required
    fields still raise (TypeError), as before."""
    names = {f.name for f in fields(cls)}
    unknown = frozenset(data) - names
    if not unknown:
        return dict(data)
    if (cls.__name__, unknown) not in _warned_unknown:
        _warned_unknown.add((cls.__name__, unknown))
        logger.warning("ignoring unknown %s field(s): %s", cls.__name__, ", ".join(sorted(unknown)))
    return {k: v for k, v in data.items() if k in names}


def _instant(timestamp: str | None) -> float:
    """POSIX seconds of an ISO 8601 timestamp (``Z`` allowed); ``-inf`` if absent or unreadable."""
    if not timestamp:
        return -math.inf
    try:
        moment = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        return -math.inf
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
