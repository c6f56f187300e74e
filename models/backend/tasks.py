"""Conversions between Label Studio tasks and the stance model.

A Slant task (``docs/schema.md``) holds one sentence and its ``actors`` list; result
``stance_{i}`` / ``not_actor_{i}`` refer to ``actors[i]`` and ``engagement`` to the sentence.
These functions turn a task into model inputs, model probabilities into a Label Studio
prediction, and annotated tasks back into training pairs. They go through
:mod:`annotate.labelstudio.tasks` (the push/pull side), so a prediction made by the backend
is exactly what ``slant push --predictions`` would attach, and annotations are read the way
``slant pull`` reads them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from annotate.labels import ENGAGEMENT_TARGET, LabelSet, load_label_set
from annotate.labelstudio.tasks import TaskFormatError, parse_result, prediction_payload, target_mentions, task_targets
from annotate.schema import PredictionRecord
from models.inputs import StanceInput

log = logging.getLogger(__name__)


class TaskDataError(ValueError):
    """A task's data is not a Slant task; the message names the task."""


def _task_name(task: Any) -> str:
    if not isinstance(task, Mapping):
        return f"task {task!r:.40}"
    data = task.get("data", task)
    sentence = data.get("sentence_id", "?") if isinstance(data, Mapping) else "?"
    return f"task {task.get('id', '?')} (sentence {sentence!r})"


def _data(task: Any) -> Mapping[str, Any]:
    if not isinstance(task, Mapping):
        raise TaskDataError(f"{_task_name(task)}: a task must be a JSON object, got {type(task).__name__}")
    data = task.get("data", task)
    if not isinstance(data, Mapping):
        raise TaskDataError(f"{_task_name(task)}: 'data' must be a JSON object, got {type(data).__name__}")
    if not isinstance(data.get("text"), str):
        raise TaskDataError(f"{_task_name(task)}: data has no 'text' string")
    actors = data.get("actors", [])
    if not isinstance(actors, list) or not all(isinstance(a, Mapping) and isinstance(a.get("actor"), str)
                                               and a["actor"] for a in actors):
        raise TaskDataError(f"{_task_name(task)}: data 'actors' must be a list of {{'actor': id, 'spans': ...}}")
    ids = [a["actor"] for a in actors]
    if len(set(ids)) < len(ids) or ENGAGEMENT_TARGET in ids:  # one control per actor, and engagement is not one
        raise TaskDataError(f"{_task_name(task)}: data 'actors' repeats an actor or names {ENGAGEMENT_TARGET!r}")
    for entry in actors:
        spans = entry.get("spans", [])
        if not isinstance(spans, list) or not all(
                isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                  for x in span)
                and 0 <= span[0] < span[1] <= len(data["text"]) for span in spans):
            raise TaskDataError(f"{_task_name(task)}: spans of actor {entry['actor']!r} must be [start, end] pairs "
                                f"inside the text ({len(data['text'])} characters)")
    return data


def inputs_from_task(task: Mapping[str, Any]) -> list[StanceInput]:
    """One model input per target of the task: its actors (in ``actors`` order), then engagement.

    Accepts a Label Studio task (``{"id", "data": {...}}``) or its bare ``data`` dict.
    Raises :class:`TaskDataError` when ``text`` or ``actors`` are missing or malformed.
    """
    data = _data(task)
    items = []
    try:
        for target in task_targets(data):
            mentions = target_mentions(data, target)
            items.append(StanceInput(
                text=data["text"], target=target, target_text=mentions[0].text if mentions else target,
                spans=tuple((m.start, m.end) for m in mentions),
                sentence_id=str(data.get("sentence_id", "")), article_id=str(data.get("article_id", "")),
            ))
    except (TypeError, ValueError) as exc:
        raise TaskDataError(f"{_task_name(task)}: malformed actor spans ({exc})") from None
    return items


def prediction_records(items: Sequence[StanceInput], proba: np.ndarray, *, model_version: str,
                       labels: LabelSet | None = None) -> list[PredictionRecord]:
    """One :class:`PredictionRecord` per input; ``proba`` is (n_items, n_classes) in stance order."""
    labels = labels or load_label_set()
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (len(items), len(labels.stance)):
        raise ValueError(f"proba has shape {proba.shape}, expected ({len(items)}, {len(labels.stance)})")
    return [
        PredictionRecord(sentence_id=item.sentence_id, article_id=item.article_id, target=item.target,
                         label=labels.stance[int(row.argmax())],
                         probabilities={name: float(p) for name, p in zip(labels.stance, row)},
                         model_version=model_version)
        for item, row in zip(items, proba)
    ]


def training_pairs_from_tasks(
    tasks: Iterable[Mapping[str, Any]], *, labels: LabelSet | None = None
) -> tuple[list[StanceInput], list[str], dict[str, int]]:
    """Training pairs from annotated Label Studio tasks (JSON export / ``/train`` payload shape).

    Per (task, target) the annotators' labels are combined by majority; a tie is settled
    by a ground-truth annotation if one took a side, else the pair is left out. Targets
    marked off-target ("not that actor", "not about engagement") or left blank give no pair.
    Cancelled (skipped) annotations, and malformed tasks or results, are skipped (and
    counted), never fatal.

    Returns:
        ``(inputs, labels, counts)`` with counts of ``tasks``, ``annotations``, ``pairs``,
        ``ties``, ``bad_tasks`` and ``bad_annotations``.
    """
    labels = labels or load_label_set()
    inputs: list[StanceInput] = []
    y: list[str] = []
    counts = Counter(tasks=0, annotations=0, pairs=0, ties=0, bad_tasks=0, bad_annotations=0)
    for task in tasks:
        counts["tasks"] += 1
        try:
            items = {item.target: item for item in inputs_from_task(task)}
        except TaskDataError as exc:
            log.warning("skipped for training: %s", exc)
            counts["bad_tasks"] += 1
            continue
        data = task.get("data", task)
        votes: dict[str, Counter] = {}
        ground_truth: dict[str, str] = {}
        annotations = task.get("annotations") or []
        for annotation in annotations if isinstance(annotations, list) else [annotations]:
            if not isinstance(annotation, Mapping) or not isinstance(annotation.get("result") or [], list):
                log.warning("skipped for training: %s: an annotation must be an object with a result list",
                            _task_name(task))
                counts["bad_annotations"] += 1
                continue
            if annotation.get("was_cancelled"):
                continue
            try:
                parsed = parse_result(annotation.get("result") or [], data, labels=labels,
                                      where=f"{_task_name(task)}, annotation {annotation.get('id', '?')}")
            except TaskFormatError as exc:
                log.warning("skipped for training: %s", exc)
                counts["bad_annotations"] += 1
                continue
            counts["annotations"] += 1
            for target, (label, off_target) in parsed.items():
                if label is None or off_target:
                    continue
                votes.setdefault(target, Counter())[label] += 1
                if annotation.get("ground_truth"):
                    ground_truth[target] = label
        for target, counter in votes.items():
            ranked = counter.most_common()
            if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
                if target not in ground_truth:
                    counts["ties"] += 1
                    continue
                label = ground_truth[target]
            else:
                label = ranked[0][0]
            inputs.append(items[target])
            y.append(label)
            counts["pairs"] += 1
    return inputs, y, dict(counts)


def predict_tasks(model: Any, tasks: Sequence[Mapping[str, Any]], *, labels: LabelSet | None = None) -> list[dict[str, Any]]:
    """One Label Studio prediction (``result``, ``score``, ``model_version``) per task, in order.

    All targets of all tasks go through one ``predict_proba`` call. The prediction is built
    by :func:`annotate.labelstudio.tasks.prediction_payload` (one ``choices`` result per
    target with the label's probability as its ``score``; the prediction's ``score`` is their
    mean). A malformed task gets an empty prediction and a warning naming it, so one bad task
    does not sink the batch (Label Studio needs one answer per task).
    """
    labels = labels or load_label_set()
    version = model.model_version
    per_task: list[list[StanceInput] | None] = []
    flat: list[StanceInput] = []
    for task in tasks:
        try:
            items = inputs_from_task(task)
        except TaskDataError as exc:
            log.warning("no prediction: %s", exc)
            per_task.append(None)
            continue
        per_task.append(items)
        flat.extend(items)
    proba = model.predict_proba(flat) if flat else np.zeros((0, len(labels.stance)))
    out: list[dict[str, Any]] = []
    cursor = 0
    for task, items in zip(tasks, per_task):
        if items is None:
            out.append({"result": [], "score": 0.0, "model_version": version})
            continue
        block = proba[cursor:cursor + len(items)]
        cursor += len(items)
        records = prediction_records(items, block, model_version=version, labels=labels)
        out.append(prediction_payload(records, task.get("data", task), labels=labels))
    return out
