"""Pull annotations out of Label Studio as flat :class:`AnnotationRecord` lines.

One record per (task, annotation, target): every annotator of a task, every target of
the sentence (its actors, then engagement). Skipped annotations (``was_cancelled`` with
no result) have status ``skipped`` and no labels; cancelled ones that kept a result have
status ``cancelled`` and keep their labels. Ground-truth flags, timestamps and lead time
come from the export. Annotators are user emails; an export file that only has user ids
keeps the ids (nothing is invented).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from annotate.jsonl import open_problem
from annotate.labels import LabelSet, load_label_set
from annotate.labelstudio.connection import Connection, LabelStudioAPIError
from annotate.labelstudio.push import META_KEY, find_project
from annotate.labelstudio.records import write_jsonl
from annotate.labelstudio.tasks import TaskFormatError, parse_result, target_mentions, task_targets
from annotate.schema import AnnotationRecord

logger = logging.getLogger(__name__)

#: Export options: predictions and annotators expanded, every task (also unlabeled ones).
SERIALIZATION_OPTIONS = {"predictions": {"only_id": False}, "annotations__completed_by": {"only_id": False},
                         "drafts": {"only_id": True}}


class ExportFormatError(ValueError):
    """An export file is not a Label Studio JSON export; the message names file and task."""


@dataclass
class PullResult:
    """Records pulled from a project or an export file."""

    records: list[AnnotationRecord]
    tasks: int
    annotations: int
    errors: list[str] = field(default_factory=list)
    out: Path | None = None

    def summary(self) -> str:
        text = f"{len(self.records)} record(s) from {self.annotations} annotation(s) on {self.tasks} task(s)"
        if self.out is not None:
            text += f" written to {self.out}"
        if self.errors:
            text += f"; {len(self.errors)} task(s) skipped with errors"
        return text


# -- from a server ----------------------------------------------------------------------------

def export_project(conn: Connection, project_id: int, *, timeout: float = 600.0) -> list[dict[str, Any]]:
    """The project's full JSON export (all tasks; predictions and annotators expanded)."""
    what = f"exporting project {project_id}"
    snapshot = conn.request("POST", f"/api/projects/{project_id}/exports/",
                            json={"title": "slant pull", "serialization_options": SERIALIZATION_OPTIONS},
                            what=what).json()
    deadline = time.monotonic() + timeout
    while snapshot.get("status") not in ("completed", "failed"):
        if time.monotonic() > deadline:
            raise LabelStudioAPIError(f"{what}: the export did not finish in {timeout:.0f} s")
        time.sleep(0.5)
        snapshot = conn.request("GET", f"/api/projects/{project_id}/exports/{snapshot['id']}", what=what).json()
    if snapshot["status"] == "failed":
        raise LabelStudioAPIError(f"{what}: Label Studio reports the export failed")
    response = conn.request("GET", f"/api/projects/{project_id}/exports/{snapshot['id']}/download",
                            params={"exportType": "JSON"}, what=what)
    # Exports are snapshots stored on the server: remove ours once downloaded. Failing to
    # tidy up must not throw away the annotations just downloaded.
    try:
        conn.http.delete(f"/api/projects/{project_id}/exports/{snapshot['id']}")
    except httpx.HTTPError as exc:
        logger.warning("%s: could not delete export snapshot %s on the server (%s); it stays there",
                       what, snapshot["id"], type(exc).__name__)
    return response.json()


def user_emails(conn: Connection) -> dict[int, str]:
    """``{user id: email}`` for resolving annotators given as ids."""
    users = conn.request("GET", "/api/users/", what="listing users").json()
    if isinstance(users, dict):
        users = users.get("results", [])
    return {u["id"]: u["email"] for u in users if u.get("email")}


def pull(conn: Connection, *, project: str, out: str | Path | None = None) -> PullResult:
    """Export ``project`` and flatten it to records; write them to ``out`` if given (see
    :func:`save_pulled`: nothing is written when no task could be read)."""
    project_id = find_project(conn, project)
    tasks = export_project(conn, project_id)
    result = records_from_export(tasks, origin=f"project {project!r}", users=user_emails(conn))
    if out is not None:
        save_pulled(result, out)
    return result


def save_pulled(result: PullResult, out: str | Path, *, strict: bool = False) -> bool:
    """Write ``result.records`` atomically to ``out`` unless the pull failed; ``True`` if written.

    A pull failed when tasks had errors and no record was read, or (``strict``) when any task
    had an error. A failed pull leaves an earlier file at ``out`` as it was.
    """
    if result.errors and (strict or not result.records):
        return False
    write_jsonl(result.records, out)
    result.out = Path(out)
    return True


# -- from a file ------------------------------------------------------------------------------

def read_export_file(path: str | Path) -> list[dict[str, Any]]:
    """Read a Label Studio JSON export; :class:`ExportFormatError` names the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except IsADirectoryError:
        raise ExportFormatError(f"{path}: is a directory, not a JSON export file") from None
    except OSError as exc:
        raise ExportFormatError(open_problem(path, exc)) from None
    except UnicodeDecodeError as exc:
        raise ExportFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportFormatError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise ExportFormatError(f"{path}: JSON nested too deeply to be a Label Studio export") from None
    if not isinstance(tasks, list):
        hint = " (JSON_MIN, CSV and other formats are not supported; export as JSON)" if isinstance(tasks, dict) else ""
        raise ExportFormatError(f"{path}: expected a JSON list of tasks (Label Studio's JSON export), "
                                f"got a {type(tasks).__name__}{hint}")
    if tasks and not any(isinstance(task, dict) for task in tasks):
        raise ExportFormatError(f"{path}: none of the {len(tasks)} items is a task object; not a Label Studio JSON export")
    # Single bad tasks are reported and left out by records_from_export, not fatal here.
    return tasks


def pull_from_file(path: str | Path, *, out: str | Path | None = None,
                   users: Mapping[int, str] | None = None) -> PullResult:
    """Flatten a JSON export file (downloaded from the UI or stored, like the seeds' gold labels);
    written to ``out`` as :func:`pull` does."""
    tasks = read_export_file(path)
    result = records_from_export(tasks, origin=str(path), users=users)
    if out is not None:
        save_pulled(result, out)
    return result


# -- flattening -------------------------------------------------------------------------------

def records_from_export(tasks: list[dict[str, Any]], *, origin: str = "export",
                        users: Mapping[int, str] | None = None, labels: LabelSet | None = None) -> PullResult:
    """Flatten exported tasks to records, ordered by task id, annotation id, then target.

    A task that does not fit the contract is skipped and reported in ``errors`` (naming
    ``origin`` and the task); the others are still flattened.
    """
    labels = labels or load_label_set()
    records: list[AnnotationRecord] = []
    errors: list[str] = []
    n_annotations = 0
    def order(item: tuple[int, Any]) -> tuple:
        task_id = item[1].get("id") if isinstance(item[1], dict) else None
        usable = isinstance(task_id, int) and not isinstance(task_id, bool)
        return (not usable, task_id if usable else 0, item[0])

    for number, task in sorted(enumerate(tasks, start=1), key=order):
        if not isinstance(task, dict):
            message = f"{origin}: task {number}: expected an object, got {type(task).__name__}"
            errors.append(message)
            logger.warning("%s", message)
            continue
        where = f"{origin}: task {number}" + (f" (id {task['id']})" if task.get("id") is not None else "")
        try:
            task_records = _task_records(task, where=where, users=users or {}, labels=labels)
        except (TaskFormatError, KeyError, TypeError, ValueError) as exc:
            message = str(exc) if isinstance(exc, TaskFormatError) else f"{where}: {type(exc).__name__}: {exc}"
            errors.append(message)
            logger.warning("%s", message)
            continue
        n_annotations += len({r.annotation_id for r in task_records})
        records.extend(task_records)
    return PullResult(records=records, tasks=len(tasks), annotations=n_annotations, errors=errors)


def _task_records(task: dict[str, Any], *, where: str, users: Mapping[int, str], labels: LabelSet) -> list[AnnotationRecord]:
    data = task.get("data")
    if not isinstance(data, dict):
        raise TaskFormatError(f"{where}: no 'data' object")
    for key in ("sentence_id", "text"):
        if key not in data:
            raise TaskFormatError(f"{where}: data has no {key!r} (not a Slant task)")
    annotations = task.get("annotations")
    annotations = [] if annotations is None else annotations
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise TaskFormatError(f"{where}: 'annotations' must be a list of objects")
    meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
    provenance = (meta.get(META_KEY) or {}).get("annotations") or {} if isinstance(meta.get(META_KEY) or {}, dict) else {}
    targets = task_targets(data)
    mentions = {t: target_mentions(data, t) for t in targets}
    out: list[AnnotationRecord] = []
    for annotation in sorted(annotations, key=lambda a: a.get("id") if isinstance(a.get("id"), int) else 0):
        a_where = f"{where}, annotation {annotation.get('id')}"
        result = annotation.get("result") or []
        cancelled = bool(annotation.get("was_cancelled"))
        status = ("cancelled" if result else "skipped") if cancelled else "submitted"
        parsed = parse_result(result, data, labels=labels, where=a_where)
        entry = provenance.get(f"a{annotation.get('id')}") or provenance.get(f"i{annotation.get('import_id')}")
        annotator = _annotator(annotation.get("completed_by"), users, where=a_where)
        created_at, updated_at = annotation.get("created_at"), annotation.get("updated_at")
        lead_time = annotation.get("lead_time")
        if lead_time is not None and (isinstance(lead_time, bool) or not isinstance(lead_time, (int, float))
                                      or not math.isfinite(lead_time)):
            # NaN / Infinity (Python's json reads them) are not JSON: unknown, and said so.
            logger.warning("%s: lead_time %r is not a finite number of seconds; recorded as unknown", a_where, lead_time)
            lead_time = None
        if entry:
            # Pushed back by Slant: the original annotator (when not a user here) and times.
            if not entry.get("attributed", True):
                annotator = entry["annotator"]
            if not _edited_since_created(created_at, updated_at):
                updated_at = entry.get("updated_at")
            created_at = entry.get("created_at")
        for target in targets:
            label, off_target = parsed[target]
            out.append(AnnotationRecord(
                task_id=task.get("id"), sentence_id=data["sentence_id"], article_id=data.get("article_id", ""),
                target=target, label=label, annotator=annotator, annotation_id=annotation.get("id"),
                off_target=off_target, status=status, ground_truth=bool(annotation.get("ground_truth")),
                created_at=created_at, updated_at=updated_at, lead_time=lead_time,
                text=data["text"], source=data.get("source", ""), mentions=mentions[target],
            ))
    return out


def _annotator(completed_by: Any, users: Mapping[int, str], *, where: str) -> str:
    if isinstance(completed_by, dict):
        if completed_by.get("email"):
            return completed_by["email"]
        completed_by = completed_by.get("id")
    if isinstance(completed_by, int):
        return users.get(completed_by, str(completed_by))
    if isinstance(completed_by, str) and completed_by:
        return completed_by
    raise TaskFormatError(f"{where}: no annotator ('completed_by' is {completed_by!r})")


def _edited_since_created(created_at: str | None, updated_at: str | None) -> bool:
    """An imported annotation has created == updated (to the second) until someone edits it."""
    try:
        created = datetime.fromisoformat(str(created_at).replace("Z", "+00:00"))
        updated = datetime.fromisoformat(str(updated_at).replace("Z", "+00:00"))
    except ValueError:
        return True
    return (updated - created).total_seconds() > 1.0
