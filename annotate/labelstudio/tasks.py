"""Slant records <-> Label Studio task data and results (the contract in docs/schema.md).

One task per sentence. ``actors`` lists the actors the sentence mentions in order of first
mention; result ``stance_{i}`` / ``not_actor_{i}`` refer to ``actors[i]`` and result
``engagement`` is the sentence-level engagement choice. Stored choice values are the
aliases of ``label_config.xml``, read through :mod:`annotate.labels`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from annotate.labels import (
    ENGAGEMENT_CONTROL,
    ENGAGEMENT_TARGET,
    NOT_ACTOR_CONTROL_PREFIX,
    STANCE_CONTROL_PREFIX,
    LabelSet,
    load_label_set,
)
from annotate.schema import AnnotationRecord, Mention, PredictionRecord, SentenceRecord

logger = logging.getLogger(__name__)

#: The keys of a task's ``data``, exactly (the contract).
#: ``outlet`` repeats ``source`` for display: Label Studio 1.23.2 reserves ``$source`` in configs.
TASK_DATA_KEYS = ("sentence_id", "article_id", "index", "title", "source", "outlet", "text",
                  "context_before", "context_after", "actors")
#: Results of Choices controls all point at the sentence.
TO_NAME = "text"


class TaskFormatError(ValueError):
    """A task, result or record does not fit the contract; the message names the item."""


def default_actor_name(actor: str) -> str:
    """Display name of an actor id: the registry's name when the corpus module provides one."""
    from annotate.corpus.actors import load_registry

    try:
        return load_registry().display_name(actor)
    except KeyError:  # an actor of a user's own registry: show its id rather than fail the push
        return actor.replace("_", " ").title()


def task_data(sentence: SentenceRecord, *, actor_name: Callable[[str], str] | Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``data`` of the Label Studio task for one sentence (exactly :data:`TASK_DATA_KEYS`)."""
    if isinstance(actor_name, Mapping):
        names = actor_name
        actor_name = lambda actor: names.get(actor) or default_actor_name(actor)
    name_of = actor_name or default_actor_name
    actors = []
    for actor in sentence.actors():
        mentions = [m for m in sentence.mentions if m.actor == actor]
        actors.append({
            "actor": actor,
            "name": name_of(actor),
            "mentions": ", ".join(dict.fromkeys(m.text for m in mentions)),
            "spans": [[m.start, m.end] for m in mentions],
        })
    return {
        "sentence_id": sentence.sentence_id, "article_id": sentence.article_id, "index": sentence.index,
        "title": sentence.title, "source": sentence.source, "outlet": sentence.source, "text": sentence.text,
        "context_before": sentence.context_before, "context_after": sentence.context_after,
        "actors": actors,
    }


def task_targets(data: Mapping[str, Any]) -> list[str]:
    """The targets of a task in record order: its actors, then ``engagement``."""
    return [a["actor"] for a in data.get("actors") or []] + [ENGAGEMENT_TARGET]


def target_mentions(data: Mapping[str, Any], target: str) -> list[Mention]:
    """The target's mentions in the task's sentence (empty for engagement)."""
    text = data.get("text", "")
    for entry in data.get("actors") or []:
        if entry["actor"] == target:
            return [Mention(actor=target, text=text[s:e], start=s, end=e) for s, e in entry.get("spans", [])]
    return []


def _choice(from_name: str, value: str) -> dict[str, Any]:
    return {"from_name": from_name, "to_name": TO_NAME, "type": "choices", "value": {"choices": [value]}}


def _control_for(data: Mapping[str, Any], target: str, *, where: str) -> int | None:
    """Index of the actor in ``data['actors']``; ``None`` for engagement."""
    if target == ENGAGEMENT_TARGET:
        return None
    for i, entry in enumerate(data.get("actors") or []):
        if entry["actor"] == target:
            return i
    raise TaskFormatError(f"{where}: target {target!r} is not an actor of sentence {data.get('sentence_id')!r}")


def prediction_payload(predictions: Iterable[PredictionRecord], data: Mapping[str, Any], *,
                       labels: LabelSet | None = None) -> dict[str, Any]:
    """One Label Studio prediction (``model_version``, ``score``, ``result``) for one task.

    ``predictions`` are one model version's records for the task's sentence. Each result
    carries the model's probability of its label as ``score``; the prediction's score is
    their mean (Label Studio sorts and filters by it). Targets that are not in the task are
    skipped with a warning.
    """
    labels = labels or load_label_set()
    results, scores, versions = [], [], set()
    for record in predictions:
        versions.add(record.model_version)
        where = f"prediction for sentence {record.sentence_id!r}, target {record.target!r}"
        if record.label not in labels.stance:
            raise TaskFormatError(f"{where}: label {record.label!r} is not one of {', '.join(labels.stance)}")
        record = checked_probabilities(record, labels=labels, where=where)
        try:
            index = _control_for(data, record.target, where=where)
        except TaskFormatError as exc:
            logger.warning("%s; skipped", exc)
            continue
        name = ENGAGEMENT_CONTROL if index is None else f"{STANCE_CONTROL_PREFIX}{index}"
        score = float(record.probabilities.get(record.label, 0.0))
        results.append({**_choice(name, record.label), "score": score})
        scores.append(score)
    if len(versions) != 1:
        raise TaskFormatError(f"sentence {data.get('sentence_id')!r}: expected one model_version, got {sorted(versions)}")
    return {"model_version": versions.pop(), "score": sum(scores) / len(scores) if scores else 0.0,
            "result": results}


def checked_probabilities(record: PredictionRecord, *, labels: LabelSet, where: str) -> PredictionRecord:
    """``record`` after the report's check (:func:`annotate.report.inputs.checked_prediction`):
    one finite number per stance label, summing to 1, ``label`` the most probable; raises
    :class:`TaskFormatError` naming ``where`` otherwise (e.g. strings, all zeros, a sum of 2.7)."""
    from annotate.report.inputs import checked_prediction

    try:
        return checked_prediction(record, labels=labels.stance)
    except (ValueError, TypeError) as exc:
        raise TaskFormatError(f"{where}: {exc}") from None


def annotation_result(records: Iterable[AnnotationRecord], data: Mapping[str, Any], *,
                      labels: LabelSet | None = None) -> list[dict[str, Any]]:
    """The Label Studio ``result`` of one annotation, rebuilt from its flat records.

    Inverse of :func:`records_from_annotation` for a given task: a labeled target gives a
    stance choice, an off-target flag gives ``not_actor_{i}`` (actors) or the engagement
    off-target choice, a blank target gives nothing.
    """
    labels = labels or load_label_set()
    result = []
    for record in records:
        where = f"annotation record for sentence {record.sentence_id!r}, target {record.target!r}, annotator {record.annotator!r}"
        index = _control_for(data, record.target, where=where)
        if record.label is not None and record.label not in labels.stance:
            raise TaskFormatError(f"{where}: label {record.label!r} is not one of {', '.join(labels.stance)}")
        if index is None:
            if record.label is not None:
                result.append(_choice(ENGAGEMENT_CONTROL, record.label))
            elif record.off_target:
                result.append(_choice(ENGAGEMENT_CONTROL, labels.engagement_off_target[0]))
        else:
            if record.label is not None:
                result.append(_choice(f"{STANCE_CONTROL_PREFIX}{index}", record.label))
            if record.off_target:
                result.append({**_choice(f"{NOT_ACTOR_CONTROL_PREFIX}{index}", labels.not_actor)})
    return result


def parse_result(result: list[dict[str, Any]], data: Mapping[str, Any], *, labels: LabelSet | None = None,
                 where: str = "annotation") -> dict[str, tuple[str | None, bool]]:
    """Map an annotation's ``result`` to ``{target: (label, off_target)}`` for every target.

    Targets the annotator left blank map to ``(None, False)``. Raises
    :class:`TaskFormatError` naming ``where`` for results that do not fit the task or the
    label set.
    """
    labels = labels or load_label_set()
    actors = [a["actor"] for a in data.get("actors") or []]
    out: dict[str, list] = {t: [None, False] for t in task_targets(data)}
    for item in result or []:
        if not isinstance(item, Mapping):
            raise TaskFormatError(f"{where}: a result item must be an object, got {type(item).__name__}")
        name = item.get("from_name", "")
        if item.get("type") != "choices":
            continue  # e.g. a future free-text comment: not a stance
        value = item.get("value") or {}
        values = (value.get("choices") if isinstance(value, Mapping) else None) or []
        if not isinstance(values, list):
            raise TaskFormatError(f"{where}: result {name!r} has no list of choices")
        control = STANCE_CONTROL_PREFIX if name.startswith(STANCE_CONTROL_PREFIX) else name
        if len(values) > 1 and control in labels.single_choice:
            # Keeping one of them would be a guess about which the annotator meant.
            raise TaskFormatError(f"{where}: {name} takes one choice but has {len(values)} ({', '.join(map(repr, values))})")
        if name == ENGAGEMENT_CONTROL:
            for value in values:
                if value in labels.engagement_off_target:
                    out[ENGAGEMENT_TARGET][1] = True
                elif value in labels.stance:
                    out[ENGAGEMENT_TARGET][0] = value
                else:
                    raise TaskFormatError(f"{where}: engagement choice {value!r} is not one of {', '.join(labels.engagement)}")
            continue
        for prefix, is_stance in ((STANCE_CONTROL_PREFIX, True), (NOT_ACTOR_CONTROL_PREFIX, False)):
            suffix = name[len(prefix):]
            if name.startswith(prefix) and suffix.isdigit():
                index = int(suffix)
                if index >= len(actors):
                    raise TaskFormatError(f"{where}: result {name!r} but the task has {len(actors)} actor(s)")
                slot = out[actors[index]]
                for value in values:
                    if is_stance and value in labels.stance:
                        slot[0] = value
                    elif not is_stance and value == labels.not_actor:
                        slot[1] = True
                    else:
                        valid = labels.stance if is_stance else (labels.not_actor,)
                        raise TaskFormatError(f"{where}: {name} choice {value!r} is not one of {', '.join(valid)}")
                break
        else:
            raise TaskFormatError(f"{where}: unknown control {name!r} (not in label_config.xml)")
    return {target: (label, off) for target, (label, off) in out.items()}
