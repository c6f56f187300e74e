"""Adjudication: one final label per (sentence, target) from several annotators' labels.

Rules, in order:

1. Only submitted annotations vote (skipped and cancelled ones do not); an annotator's
   latest annotation of an item replaces their earlier ones; a submitted answer with no
   label and no off-target flag is no vote.
2. A ground-truth annotation wins outright (``resolved_by="ground_truth"``; the latest one
   if several), even if its annotator later submitted another answer.
3. Otherwise the votes are counted; "off target" (this mention is not that actor / the
   sentence is not about engagement) is one more option. A single top option wins
   (``"unanimous"`` when every vote agrees, ``"majority"`` otherwise). When the majority says
   off target the item gets ``off_target=True`` and no label: it drops out of the dataset.
4. A tie goes to the tie policy (:data:`TIE_POLICIES`, ``resolved_by="tie"``). The default,
   ``"unresolved"``, leaves ``label=None`` so a reviewer settles it:
   :func:`write_review_tasks` writes those items as a Label Studio import file (each
   annotator's answer attached as a prediction whose ``model_version`` is the annotator), and
   :func:`merge_reviews` merges the reviewer's labels back (``resolved_by="reviewer"``).

``agreement`` is the share of voting annotators whose answer equals the final outcome
(for an unresolved tie: the share of the largest tied option).
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from annotate.atomic import atomic_write_text
from annotate.jsonl import read_jsonl
from annotate.labels import (
    ENGAGEMENT_CONTROL,
    ENGAGEMENT_TARGET,
    NOT_ACTOR_CONTROL_PREFIX,
    STANCE_CONTROL_PREFIX,
    load_label_set,
)
from annotate.schema import AnnotationRecord, Mention, SentenceRecord, records_of

log = logging.getLogger(__name__)

#: The vote value standing for "off target" while counting (never a stance label).
OFF_TARGET = "<off_target>"

RESOLVED_BY = ("majority", "unanimous", "ground_truth", "reviewer", "tie")


@dataclass
class AdjudicatedLabel:
    """The settled label of one (sentence, target): a line of ``adjudicated.jsonl``."""

    sentence_id: str
    article_id: str
    target: str
    label: str | None  # a stance class; None when off target or unresolved
    off_target: bool
    n_annotators: int  # annotators with a usable vote (stance or off target)
    agreement: float  # share of those annotators whose vote equals the outcome
    votes: dict[str, str | None]  # annotator -> stance label, None = off target
    resolved_by: str  # majority | unanimous | ground_truth | reviewer | tie
    task_id: int | None = None
    source: str = ""
    text: str = ""
    mentions: list[Mention] = field(default_factory=list)
    reviewer: str | None = None  # who settled it, when resolved_by == "reviewer"

    @property
    def unresolved(self) -> bool:
        """True when no label was decided and the item is not off target (a reviewer's job)."""
        return self.label is None and not self.off_target

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdjudicatedLabel:
        data = dict(data)
        data["mentions"] = [Mention(**m) for m in data.get("mentions", [])]
        return cls(**data)


# ----------------------------------------------------------------------------- tie policies

#: A tie policy gets the tied options (stance labels or :data:`OFF_TARGET`, in the order the
#: first vote for each was cast) and every vote in order; it returns the winner or ``None``.
TiePolicy = Callable[[Sequence[str], Sequence[str]], "str | None"]
TIE_POLICIES: dict[str, TiePolicy] = {}


def register_tie_policy(name: str) -> Callable[[TiePolicy], TiePolicy]:
    """Decorator adding a tie policy to :data:`TIE_POLICIES` under ``name``."""

    def add(policy: TiePolicy) -> TiePolicy:
        TIE_POLICIES[name] = policy
        return policy

    return add


def get_tie_policy(name: str) -> TiePolicy:
    """The registered tie policy ``name``; ``ValueError`` listing the valid names otherwise."""
    try:
        return TIE_POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown tie policy {name!r}; valid tie policies: {', '.join(sorted(TIE_POLICIES))}") from None


@register_tie_policy("unresolved")
def _tie_unresolved(tied: Sequence[str], votes: Sequence[str]) -> str | None:
    """Leave the item for a reviewer (label None)."""
    return None


@register_tie_policy("neutral")
def _tie_neutral(tied: Sequence[str], votes: Sequence[str]) -> str | None:
    """The middle stance class of the ordinal scale (``neutral``), whatever is tied."""
    stance = load_label_set().stance
    return stance[len(stance) // 2]


@register_tie_policy("first")
def _tie_first(tied: Sequence[str], votes: Sequence[str]) -> str | None:
    """The tied option voted for first (votes are ordered by annotation time)."""
    return next(v for v in votes if v in tied)


@register_tie_policy("median")
def _tie_median(tied: Sequence[str], votes: Sequence[str]) -> str | None:
    """The ordinal median of the tied stance options (critical vs favorable -> neutral).

    When the two middle votes are neighbours (critical vs neutral, neutral vs favorable) there
    is no single median; the one nearer the middle of the scale is taken, so neither end of
    the scale is favoured. Off-target votes are ignored here; a tie between off target and one
    stance gives that stance.
    """
    stance = load_label_set().stance
    codes = sorted(stance.index(v) for v in votes if v in tied and v != OFF_TARGET)
    if not codes:
        return None
    low, high = codes[(len(codes) - 1) // 2], codes[len(codes) // 2]
    if (low + high) % 2 == 0:
        return stance[(low + high) // 2]
    centre = (len(stance) - 1) / 2
    return stance[min((low, high), key=lambda code: abs(code - centre))]


# ----------------------------------------------------------------------------- adjudicate


def _vote(record: AnnotationRecord) -> str | None:
    """The record's vote: a stance label, OFF_TARGET, or None (no vote)."""
    if record.off_target:
        return OFF_TARGET
    return record.label


def _valid_vote(record: AnnotationRecord, stance: Sequence[str], *, warn: bool = False) -> bool:
    """Whether ``record`` votes: off target, or a stance class (a blank answer does not)."""
    vote = _vote(record)
    if vote is None:
        return False
    if vote != OFF_TARGET and vote not in stance:
        if warn:  # one bad record must not sink the batch: drop that vote and say so
            log.warning("task %s sentence %s target %s: label %r by %s is not a stance class (%s); vote ignored",
                        record.task_id, record.sentence_id, record.target, record.label, record.annotator,
                        ", ".join(stance))
        return False
    return True


def adjudicate(records: Iterable[AnnotationRecord] | str | os.PathLike, *,
               tie_policy: str = "unresolved") -> list[AdjudicatedLabel]:
    """Settle one label per (sentence, target); see the module docstring for the rules.

    Args:
        records: annotation records (any order; several annotators, exports merged), dicts
            of them, or the path of an ``annotations.jsonl``.
        tie_policy: name in :data:`TIE_POLICIES` (``unresolved``, ``neutral``, ``first``,
            ``median``).

    Returns:
        One :class:`AdjudicatedLabel` per item with at least one vote, in first-seen order.
        Items nobody voted on (all skipped/cancelled/blank) are left out (logged).

    Raises:
        ValueError: unknown tie policy. (A label that is not a stance class is logged and
        that vote ignored.)
    """
    policy = get_tie_policy(tie_policy)
    records = records_of(records, AnnotationRecord, name="records")
    stance = load_label_set().stance
    latest: dict[tuple[str, str], dict[str, AnnotationRecord]] = {}
    ground_truth: dict[tuple[str, str], AnnotationRecord] = {}
    first_seen: dict[tuple[str, str], AnnotationRecord] = {}
    for record in records:
        item = (record.sentence_id, record.target)
        first_seen.setdefault(item, record)
        if record.status != "submitted":
            continue
        # Rule 1: the latest submitted answer replaces earlier ones, even when it is blank.
        by_annotator = latest.setdefault(item, {})
        previous = by_annotator.get(record.annotator)
        if previous is None or record.recency() >= previous.recency():
            by_annotator[record.annotator] = record
        # Rule 2: any ground-truth answer counts, even one its annotator later replaced.
        if record.ground_truth and _valid_vote(record, stance):
            known = ground_truth.get(item)
            if known is None or record.recency() >= known.recency():
                ground_truth[item] = record

    results = []
    no_votes = 0
    for item, first in first_seen.items():
        ordered = sorted((r for r in latest.get(item, {}).values() if _valid_vote(r, stance, warn=True)),
                         key=AnnotationRecord.recency)
        if not ordered and item in ground_truth:
            ordered = [ground_truth[item]]
        if not ordered:
            no_votes += 1
            continue
        votes = [_vote(r) for r in ordered]
        if item in ground_truth:
            outcome, resolved_by = _vote(ground_truth[item]), "ground_truth"
        else:
            tally = Counter(votes)
            top = max(tally.values())
            tied = [v for v in dict.fromkeys(votes) if tally[v] == top]
            if len(tied) == 1:
                outcome = tied[0]
                resolved_by = "unanimous" if len(tally) == 1 else "majority"
            else:
                outcome, resolved_by = policy(tied, votes), "tie"
        share_of = outcome if outcome is not None else Counter(votes).most_common(1)[0][0]
        agreement = sum(v == share_of for v in votes) / len(votes)
        carrier = next((r for r in ordered if r.text), first)
        results.append(AdjudicatedLabel(
            sentence_id=first.sentence_id,
            article_id=first.article_id,
            target=first.target,
            label=None if outcome in (None, OFF_TARGET) else outcome,
            off_target=outcome == OFF_TARGET,
            n_annotators=len(votes),
            agreement=agreement,
            votes={r.annotator: (None if v == OFF_TARGET else v) for r, v in zip(ordered, votes)},
            resolved_by=resolved_by,
            task_id=next((r.task_id for r in ordered if r.task_id is not None), first.task_id),
            source=carrier.source or first.source,
            text=carrier.text,
            mentions=list(next((r.mentions for r in ordered if r.mentions), first.mentions)),
        ))
    if no_votes:
        log.info("%d item(s) had no usable vote (skipped, cancelled or blank) and are left out", no_votes)
    return results


# ----------------------------------------------------------------------------- files


def write_adjudicated(labels: Iterable[AdjudicatedLabel], path: str | Path) -> Path:
    """Write ``adjudicated.jsonl`` atomically (one :class:`AdjudicatedLabel` per line)."""
    path = Path(path)
    atomic_write_text(path, "".join(json.dumps(l.to_dict(), ensure_ascii=False) + "\n" for l in labels))
    return path


def is_adjudicated_file(path: str | Path) -> bool:
    """True when the file's first record has the adjudicated-label shape (``votes``,
    ``resolved_by``), as ``slant adjudicate`` writes; else (annotations, or unreadable: the
    annotation reader then names the problem) False."""
    try:
        with Path(path).open(encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    return {"votes", "resolved_by"} <= set(json.loads(line))
    except (OSError, ValueError, TypeError, UnicodeDecodeError):
        return False
    return False


def read_adjudicated(path: str | Path) -> list[AdjudicatedLabel]:
    """Read ``adjudicated.jsonl``; ``ValueError`` naming the file (and line) if it is missing or bad."""
    return read_jsonl(path, AdjudicatedLabel.from_dict, error=ValueError, bad_record="not an adjudicated label")


# ----------------------------------------------------------------------------- review round trip

REVIEW_SCOPES = ("unresolved", "disagreements")


def check_review_scope(scope: str) -> str:
    """``scope`` if it is one of :data:`REVIEW_SCOPES`; else ``ValueError`` listing them."""
    if scope not in REVIEW_SCOPES:
        raise ValueError(f"unknown review scope {scope!r}; valid scopes: {', '.join(REVIEW_SCOPES)}")
    return scope


def _needs_review(label: AdjudicatedLabel, scope: str) -> bool:
    if label.resolved_by in ("ground_truth", "reviewer"):
        return False
    if scope == "unresolved":
        return label.unresolved
    return len(set(label.votes.values())) > 1


def _surface_forms(mentions: Sequence[Mention]) -> str:
    return ", ".join(dict.fromkeys(m.text for m in sorted(mentions, key=lambda m: m.start)))


def _registry_names() -> Callable[[str], str]:
    """Display names from the actor registry; the id itself for unknown actors."""
    try:
        from annotate.corpus import load_registry

        registry = load_registry()
    except Exception as exc:  # noqa: BLE001 - names are cosmetic: never fail review export over them
        log.warning("actor registry unavailable (%s); review tasks show actor ids", exc)
        return lambda actor: actor

    def name(actor: str) -> str:
        try:
            return registry.display_name(actor)
        except Exception:  # noqa: BLE001 - e.g. an actor id the registry does not know
            return actor

    return name


def _review_task(
    sentence_id: str,
    labels: Sequence[AdjudicatedLabel],
    sentence: SentenceRecord | None,
    actor_name: Callable[[str], str],
    title: str,
) -> dict[str, Any]:
    """One Label Studio task (contract task data) with the annotators' answers as predictions."""
    label_set = load_label_set()
    first = labels[0]
    actors = [l for l in labels if l.target != ENGAGEMENT_TARGET]
    engagement = next((l for l in labels if l.target == ENGAGEMENT_TARGET), None)
    data = {
        "sentence_id": sentence_id,
        "article_id": first.article_id,
        "index": sentence.index if sentence else -1,  # -1: position unknown without sentences.jsonl
        "title": (sentence.title if sentence and sentence.title else title),
        "source": first.source or (sentence.source if sentence else ""),
        "outlet": first.source or (sentence.source if sentence else ""),
        "text": first.text or (sentence.text if sentence else ""),
        "context_before": sentence.context_before if sentence else "",
        "context_after": sentence.context_after if sentence else "",
        # Only the disputed actors: result stance_{i} refers to actors[i] of this task.
        "actors": [],
    }
    for label in actors:
        mentions = label.mentions or ([m for m in sentence.mentions if m.actor == label.target] if sentence else [])
        data["actors"].append({
            "actor": label.target,
            "name": actor_name(label.target),
            "mentions": _surface_forms(mentions),
            "spans": [[m.start, m.end] for m in sorted(mentions, key=lambda m: m.start)],
        })
    # One prediction per annotator: what they answered for each disputed target.
    by_annotator: dict[str, list[dict[str, Any]]] = {}
    for i, label in enumerate(actors):
        for annotator, vote in label.votes.items():
            control, value = (f"{NOT_ACTOR_CONTROL_PREFIX}{i}", label_set.not_actor) if vote is None \
                else (f"{STANCE_CONTROL_PREFIX}{i}", vote)
            by_annotator.setdefault(annotator, []).append(_choice(control, value))
    if engagement is not None:
        for annotator, vote in engagement.votes.items():
            value = vote if vote is not None else label_set.engagement_off_target[0]
            by_annotator.setdefault(annotator, []).append(_choice(ENGAGEMENT_CONTROL, value))
    task: dict[str, Any] = {"data": data}
    task["predictions"] = [{"model_version": annotator, "result": result} for annotator, result in by_annotator.items()]
    return task


def _choice(control: str, value: str) -> dict[str, Any]:
    return {"from_name": control, "to_name": "text", "type": "choices", "value": {"choices": [value]}}


def review_tasks(
    adjudicated: Iterable[AdjudicatedLabel],
    *,
    sentences: Iterable[SentenceRecord] | Mapping[str, SentenceRecord] | None = None,
    actor_names: Mapping[str, str] | None = None,
    titles: Mapping[str, str] | None = None,
    scope: str = "unresolved",
) -> list[dict[str, Any]]:
    """Label Studio tasks for the items a reviewer should settle (one task per sentence).

    Args:
        adjudicated: output of :func:`adjudicate`.
        sentences: the ``sentences.jsonl`` records, for index, title and context (optional;
            without them those fields are ``-1``/empty).
        actor_names: actor id -> display name; by default the actor registry's names
            (``annotate.corpus.load_registry``), the id for actors it does not know.
        titles: article id -> title (e.g. from the manifest) when sentences carry none.
        scope: ``"unresolved"`` (ties left open, the default) or ``"disagreements"`` (every
            item whose annotators did not all agree, settled or not).

    Returns:
        Tasks ``{"data": <contract task data>, "predictions": [...]}``; each
        prediction's ``model_version`` is one annotator and its result is that annotator's
        answers, so a reviewer sees (and can pick) each of them.
    """
    check_review_scope(scope)
    if sentences is None:
        by_id: Mapping[str, SentenceRecord] = {}
    elif isinstance(sentences, Mapping):
        by_id = sentences
    else:
        by_id = {s.sentence_id: s for s in sentences}
    grouped: dict[str, list[AdjudicatedLabel]] = {}
    for label in adjudicated:
        if _needs_review(label, scope):
            grouped.setdefault(label.sentence_id, []).append(label)
    if actor_names is not None:
        names = dict(actor_names)
        actor_name: Callable[[str], str] = lambda actor: names.get(actor, actor)
    else:
        actor_name = _registry_names() if grouped else (lambda actor: actor)
    tasks = []
    for sentence_id, labels in grouped.items():
        sentence = by_id.get(sentence_id)
        order = {a: i for i, a in enumerate(sentence.actors())} if sentence else {}
        labels.sort(key=lambda l: (l.target == ENGAGEMENT_TARGET, order.get(l.target, len(order)),
                                   min((m.start for m in l.mentions), default=0)))
        tasks.append(_review_task(sentence_id, labels, sentence, actor_name,
                                  (titles or {}).get(labels[0].article_id, "")))
    return tasks


def write_review_tasks(
    adjudicated: Iterable[AdjudicatedLabel],
    path: str | Path,
    *,
    sentences: Iterable[SentenceRecord] | Mapping[str, SentenceRecord] | None = None,
    actor_names: Mapping[str, str] | None = None,
    titles: Mapping[str, str] | None = None,
    scope: str = "unresolved",
) -> int:
    """Write :func:`review_tasks` as a Label Studio-importable JSON list, atomically.

    Import it in the UI (or ``client.projects.import_tasks``) into a review project using
    ``label_config.xml``; pull that project and pass its records to :func:`merge_reviews`.
    Returns the number of tasks written (an empty list is still written).
    """
    tasks = review_tasks(adjudicated, sentences=sentences, actor_names=actor_names, titles=titles, scope=scope)
    atomic_write_text(Path(path), json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
    return len(tasks)


def merge_adjudicated(*groups: Iterable[AdjudicatedLabel]) -> tuple[list[AdjudicatedLabel], int]:
    """Merge groups of adjudicated labels into one label per (sentence, target).

    A later group's label replaces an earlier group's label of the same item (pass freshly
    adjudicated labels first and reviewed or hand-edited files after them). Within one
    group, the last label of an item wins too.

    Returns:
        ``(labels, n_replaced)``: the labels in first-seen item order, and how many were
        replaced by a later one.
    """
    merged: dict[tuple[str, str], AdjudicatedLabel] = {}
    replaced = 0
    for group in groups:
        for label in group:
            key = (label.sentence_id, label.target)
            replaced += key in merged
            merged[key] = label
    return list(merged.values()), replaced


def merge_reviews(
    adjudicated: Iterable[AdjudicatedLabel], reviewer_records: Iterable[AnnotationRecord]
) -> list[AdjudicatedLabel]:
    """Apply the labels a reviewer settled in a review project.

    Each submitted reviewer record (stance or off target) for an adjudicated (sentence,
    target) replaces its outcome: ``resolved_by="reviewer"``, ``reviewer`` set, ``agreement``
    recomputed as the share of the original annotators' votes equal to the reviewer's label.
    The original votes are kept. If several reviewers settled one item, the latest wins.
    Blank, skipped or cancelled review records change nothing; records for items not in
    ``adjudicated`` are ignored (logged). Returns new objects; the input is not modified.
    """
    stance = load_label_set().stance
    latest: dict[tuple[str, str], AnnotationRecord] = {}
    for record in reviewer_records:
        if record.status != "submitted" or _vote(record) is None:
            continue
        if not record.off_target and record.label not in stance:
            raise ValueError(f"review of sentence {record.sentence_id} target {record.target}: "
                             f"label {record.label!r} is not a stance class ({', '.join(stance)})")
        key = (record.sentence_id, record.target)
        if key not in latest or record.recency() >= latest[key].recency():
            latest[key] = record
    merged, used = [], set()
    for label in adjudicated:
        key = (label.sentence_id, label.target)
        review = latest.get(key)
        if review is None:
            merged.append(AdjudicatedLabel.from_dict(label.to_dict()))
            continue
        used.add(key)
        final = None if review.off_target else review.label
        votes = list(label.votes.values())
        data = label.to_dict()
        data.update(
            label=final,
            off_target=review.off_target,
            resolved_by="reviewer",
            reviewer=review.annotator,
            agreement=(sum(v == final for v in votes) / len(votes)) if votes else 1.0,
        )
        merged.append(AdjudicatedLabel.from_dict(data))
    unknown = set(latest) - used
    if unknown:
        log.warning("%d review label(s) are for items not in the adjudicated set and were ignored: %s",
                    len(unknown), ", ".join(f"{s}/{t}" for s, t in sorted(unknown)[:5]))
    return merged
