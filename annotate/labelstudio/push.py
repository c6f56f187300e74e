"""Push sentences (with optional predictions) and annotation records into a Label Studio project.

Every push is idempotent: a task is identified by its ``sentence_id``, a prediction by
(task, ``model_version``), and an annotation pushed back by its provenance stored in the
task's ``meta`` (see docs/labelstudio.md). Pushing the same file twice adds nothing;
pushing a grown file adds only what is new.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from annotate.labels import load_label_set
from annotate.labelstudio.connection import (
    AmbiguousProjectError,
    Connection,
    LabelStudioAPIError,
    UnknownProjectError,
)
from annotate.labelstudio.locks import project_lock
from annotate.labelstudio.tasks import (
    TaskFormatError,
    annotation_result,
    prediction_payload,
    task_data,
)
from annotate.schema import AnnotationRecord, PredictionRecord, SentenceRecord

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000
#: Key in a task's ``meta`` under which Slant keeps the provenance of pushed annotations.
META_KEY = "slant"


@dataclass
class PushResult:
    """What a push did. ``errors`` name the items that were not pushed (the rest was)."""

    project_id: int
    project_title: str
    project_created: bool = False
    created: int = 0  # tasks imported
    skipped: int = 0  # tasks already in the project (or repeated in the input)
    predictions_added: int = 0
    predictions_skipped: int = 0  # the task already had that model_version
    annotations_added: int = 0
    annotations_skipped: int = 0  # already in the project
    users_created: list[str] = field(default_factory=list)
    duplicates_removed: int = 0  # tasks another push imported at the same moment (see remove_duplicates_made)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"project {self.project_title!r} (id {self.project_id}{', new' if self.project_created else ''})",
                 f"{self.created} task(s) created", f"{self.skipped} already there"]
        if self.predictions_added or self.predictions_skipped:
            parts.append(f"{self.predictions_added} prediction(s) added, {self.predictions_skipped} already there")
        if self.annotations_added or self.annotations_skipped:
            parts.append(f"{self.annotations_added} annotation(s) added, {self.annotations_skipped} already there")
        if self.users_created:
            parts.append(f"{len(self.users_created)} user(s) created")
        if self.duplicates_removed:
            parts.append(f"{self.duplicates_removed} duplicate(s) of a concurrent push removed")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        return ": ".join(parts[:1]) + ": " + ", ".join(parts[1:])


@dataclass
class ExistingTask:
    """A task already in the project, as far as pushing needs to know it."""

    id: int
    data: dict[str, Any]
    model_versions: set[str]
    annotation_ids: set[int]
    meta: dict[str, Any]


# -- projects ---------------------------------------------------------------------------------

def list_projects(conn: Connection) -> dict[str, list[int]]:
    """``{title: [ids, ascending]}`` of every project the token's user can see."""
    projects: dict[str, list[int]] = defaultdict(list)
    page = 1
    while True:
        body = conn.request("GET", "/api/projects/", params={"page": page, "page_size": 100},
                            what="listing projects").json()
        for project in body.get("results", []):
            projects[project["title"]].append(project["id"])
        if not body.get("next"):
            return {title: sorted(ids) for title, ids in projects.items()}
        page += 1


def find_project(conn: Connection, title: str) -> int:
    """Id of the project titled ``title``.

    Raises :class:`UnknownProjectError` listing the titles there are, and
    :class:`AmbiguousProjectError` naming the ids when several projects share the title
    (commands never pick one silently).
    """
    projects = list_projects(conn)
    ids = projects.get(title)
    if not ids:
        known = ", ".join(repr(t) for t in sorted(projects)) or "none"
        raise UnknownProjectError(f"no project titled {title!r} on {conn.url}; projects there: {known}")
    if len(ids) > 1:
        raise AmbiguousProjectError(
            f"{len(ids)} projects on {conn.url} are titled {title!r} (ids {', '.join(map(str, ids))}); "
            "rename or delete all but one in Label Studio (project settings), then run the command again")
    return ids[0]


def _check_title(title: Any) -> str:
    if not isinstance(title, str):
        raise LabelStudioAPIError(f"a project title must be a string, got {type(title).__name__}")
    if not 3 <= len(title) <= 50:
        raise LabelStudioAPIError(f"project title {title!r} has {len(title)} characters; Label Studio needs 3 to 50")
    return title


def ensure_project(conn: Connection, title: str, *, label_config: str | None = None) -> tuple[int, bool]:
    """Find the project titled ``title`` or create it with ``label_config.xml``: ``(id, created)``.

    Run it under :func:`annotate.labelstudio.locks.project_lock` (pushes do). A push on
    another machine may create the same title at the same moment; for a server other than
    the local one, the project list is read again after creating, and if another project of
    that title has a lower id, the one just made (still empty) is deleted and the other used.
    """
    xml = label_config or load_label_set().xml
    _check_title(title)
    try:
        project_id = find_project(conn, title)
    except UnknownProjectError:
        with conn.errors(f"creating project {title!r}"):
            project = conn.sdk.projects.create(title=title, label_config=xml)
        logger.info("created project %r (id %d)", title, project.id)
        if conn.local:
            return project.id, True
        first = min(list_projects(conn).get(title) or [project.id])
        if first == project.id:
            return project.id, True
        logger.warning("project %r was created at the same time elsewhere (id %d); using it and deleting "
                       "the copy just made (id %d)", title, first, project.id)
        conn.request("DELETE", f"/api/projects/{project.id}/", what=f"deleting duplicate project {project.id}")
        project_id = first
    current = conn.request("GET", f"/api/projects/{project_id}/", what=f"reading project {title!r}").json()
    if (current.get("label_config") or "").strip() != xml.strip():
        logger.warning("project %r uses a different label config than label_config.xml", title)
    return project_id, False


def remove_duplicates_made(conn: Connection, project_id: int, made: Iterable[int]) -> int:
    """Delete the tasks in ``made`` (ids this push imported) whose ``sentence_id`` also has a
    task with a lower id; returns how many were deleted.

    The race this settles: two pushes (on different machines, so without a shared lock) both
    saw a sentence missing and both imported it. Each push runs this after importing; the
    task with the lowest id survives, so both pushes agree on which one without talking.
    """
    made = set(made)
    if not made:
        return 0
    pairs = _task_ids_by_sentence(conn, project_id)
    first: dict[str, int] = {}
    for sentence_id, task_id in pairs:
        first[sentence_id] = min(task_id, first.get(sentence_id, task_id))
    doomed = sorted(task_id for sentence_id, task_id in pairs if task_id in made and task_id != first[sentence_id])
    if doomed:
        # One Data Manager action for all of them: a DELETE per task takes seconds each on a
        # busy server (hundreds of duplicates took over 10 minutes).
        conn.request("POST", "/api/dm/actions", params={"id": "delete_tasks", "project": project_id},
                     json={"selectedItems": {"all": False, "included": doomed}},
                     what=f"deleting {len(doomed)} duplicate task(s) of project {project_id}")
    if doomed:
        logger.warning("project %d: another push imported the same sentences at the same time; deleted the "
                       "%d duplicate task(s) this push made", project_id, len(doomed))
    return len(doomed)


def _task_ids_by_sentence(conn: Connection, project_id: int) -> list[tuple[str, int]]:
    """``(sentence_id, task id)`` of every task of the project (several per sentence if duplicated)."""
    pairs: list[tuple[str, int]] = []
    existing_tasks(conn, project_id, every=pairs)
    return pairs


# -- tasks already there ----------------------------------------------------------------------

def existing_tasks(conn: Connection, project_id: int, *, page_size: int = 1000,
                   every: list[tuple[str, int]] | None = None) -> dict[str, ExistingTask]:
    """The project's tasks by ``sentence_id`` (tasks without one are ignored; of a sentence
    with several tasks, the first listed). ``every`` collects ``(sentence_id, task id)`` of
    all of them, duplicates included."""
    found: dict[str, ExistingTask] = {}
    page, seen = 1, 0
    include = "id,data,meta,predictions_model_versions,annotations_ids"
    what = f"listing tasks of project {project_id}"
    while True:
        with conn.errors(what):
            response = conn.http.get("/api/tasks/", params={"project": project_id, "page": page,
                                                            "page_size": page_size, "fields": "all", "include": include})
        if response.status_code == 404 and page > 1:
            return found  # past the last page
        conn.raise_for_status(response.status_code, response.text, what)
        body = response.json()
        tasks = body.get("tasks", [])
        for task in tasks:
            sentence_id = (task.get("data") or {}).get("sentence_id")
            if sentence_id is None:
                continue
            if every is not None:
                every.append((sentence_id, task["id"]))
            found.setdefault(sentence_id, ExistingTask(
                id=task["id"], data=task["data"], meta=task.get("meta") or {},
                model_versions=_split_list(task.get("predictions_model_versions")),
                annotation_ids={int(i) for i in _split_list(task.get("annotations_ids")) if i.isdigit()},
            ))
        seen += len(tasks)
        # A short page is not the end: a server may cap the page size (TASK_API_PAGE_SIZE_MAX).
        if not tasks or seen >= body.get("total", seen + 1):
            return found
        page += 1


def _split_list(value: Any) -> set[str]:
    """The data manager joins lists with commas (``"v1, v2"``); accept lists too."""
    if isinstance(value, list):
        return {str(v) for v in value}
    return {part.strip() for part in str(value or "").split(",") if part.strip()}


# -- sentences and predictions ----------------------------------------------------------------

def push_sentences(
    conn: Connection,
    sentences: Iterable[SentenceRecord],
    *,
    project: str,
    predictions: Iterable[PredictionRecord] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    actor_name: Callable[[str], str] | Mapping[str, str] | None = None,
    progress: bool = True,
) -> PushResult:
    """Create or find ``project`` and import the sentences it does not have yet.

    With ``predictions``, each task gets one Label Studio prediction per ``model_version``
    (``score`` and per-result scores from the probabilities). Tasks already in the project
    that lack a model version get it added; a version a task already has is not duplicated.
    Sentences may be empty: then only predictions are added to existing tasks.

    Safe to run twice at once: pushes into the same project on this machine take turns
    (:func:`annotate.labelstudio.locks.project_lock`); for another server, tasks this push
    imported that another push imported too are deleted again (:func:`remove_duplicates_made`).
    """
    predictions = list(predictions or ())
    for version in sorted({record.model_version for record in predictions}):
        if "," in version or version != version.strip() or not version:
            # Label Studio's task list joins a task's model versions with commas, so such a
            # version could never be recognised as already there and would be re-added on every push.
            raise ValueError(f"model_version {version!r} cannot be pushed to Label Studio: it must be non-empty, "
                             f"without commas or surrounding spaces")
    with project_lock(conn.url, _check_title(project)):
        return _push_sentences(conn, sentences, project=project, predictions=predictions, batch_size=batch_size,
                               actor_name=actor_name, progress=progress)


def _push_sentences(conn: Connection, sentences: Iterable[SentenceRecord], *, project: str,
                    predictions: Iterable[PredictionRecord] | None, batch_size: int,
                    actor_name: Callable[[str], str] | Mapping[str, str] | None, progress: bool) -> PushResult:
    predictions = list(predictions or ())
    labels = load_label_set()
    project_id, created = ensure_project(conn, project, label_config=labels.xml)
    result = PushResult(project_id=project_id, project_title=project, project_created=created)
    existing = {} if created else existing_tasks(conn, project_id)

    by_sentence: dict[str, dict[str, list[PredictionRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in predictions:
        by_sentence[record.sentence_id][record.model_version].append(record)

    new_tasks: list[dict[str, Any]] = []
    seen: set[str] = set()
    for sentence in sentences:
        if sentence.sentence_id in existing or sentence.sentence_id in seen:
            result.skipped += 1
            continue
        seen.add(sentence.sentence_id)
        data = task_data(sentence, actor_name=actor_name)
        task: dict[str, Any] = {"data": data}
        task_predictions = []
        for version, records in by_sentence.pop(sentence.sentence_id, {}).items():
            try:
                task_predictions.append(prediction_payload(records, data, labels=labels))
            except TaskFormatError as exc:
                result.errors.append(str(exc))
        if task_predictions:
            task["predictions"] = task_predictions
        new_tasks.append(task)

    bar = tqdm(total=len(new_tasks), desc=f"push to {project}", unit="task", disable=not progress or not new_tasks)
    made: list[int] = []
    for start in range(0, len(new_tasks), batch_size):
        batch = new_tasks[start:start + batch_size]
        try:
            response = _import(conn, project_id, batch, made,
                               what=f"importing tasks {start + 1}-{start + len(batch)} into {project!r}")
        except LabelStudioAPIError as exc:  # one bad batch does not sink the others
            result.errors.append(str(exc))
        else:
            result.created += response.task_count or 0
            result.predictions_added += response.prediction_count or 0
        bar.update(len(batch))
    bar.close()
    _settle_race(conn, project_id, made, result)

    # Predictions for tasks that were already there: add the model versions they lack.
    additions = []
    for sentence_id, versions in by_sentence.items():
        task = existing.get(sentence_id)
        if task is None:
            result.errors.append(f"predictions for sentence {sentence_id!r}: no such task in {project!r} "
                                 "and not among the pushed sentences")
            continue
        for version, records in versions.items():
            if version in task.model_versions:
                result.predictions_skipped += 1
                continue
            try:
                payload = prediction_payload(records, task.data, labels=labels)
            except TaskFormatError as exc:
                result.errors.append(str(exc))
                continue
            additions.append({"task": task.id, **payload})
    # One request per prediction: Label Studio 1.23.2's bulk /import/predictions validates
    # result names against the config without expanding the Repeater, and silently drops
    # every stance_{i} prediction (it answers 201 {"created": 0}). /api/predictions/ keeps them.
    for payload in tqdm(additions, desc=f"predictions to {project}", unit="prediction",
                        disable=not progress or len(additions) < 50):
        try:
            conn.request("POST", "/api/predictions/", json={**payload, "project": project_id},
                         what=f"adding a {payload['model_version']!r} prediction to task {payload['task']}")
        except LabelStudioAPIError as exc:
            result.errors.append(str(exc))
        else:
            result.predictions_added += 1
    return result


def push_predictions(conn: Connection, predictions: Iterable[PredictionRecord], *, project: str,
                     batch_size: int = DEFAULT_BATCH_SIZE) -> PushResult:
    """Attach predictions to tasks already in ``project`` (missing model versions only)."""
    return push_sentences(conn, [], project=project, predictions=predictions, batch_size=batch_size, progress=False)


# -- annotation records pushed back -----------------------------------------------------------

def push_annotations(
    conn: Connection,
    records: Iterable[AnnotationRecord],
    *,
    project: str,
    sentences: Mapping[str, SentenceRecord] | None = None,
    create_users: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
) -> PushResult:
    """Push flat annotation records (a pulled ``annotations.jsonl``) into ``project``.

    Records are grouped back into annotations by (sentence, annotation id, annotator).
    Sentences missing from the project become tasks, rebuilt from ``sentences`` when given
    (full context) or else from the records (text, source, mentions; no title or context).
    Each annotation is attributed to the Label Studio user with the annotator's email; with
    ``create_users`` a missing user is created (no password: an attribution until the
    person sets one). Annotators that are not emails (ids from an export file) are kept in
    the task's ``meta`` and restored by pull, as are the original timestamps. Concurrent
    pushes are handled as in :func:`push_sentences`.
    """
    with project_lock(conn.url, _check_title(project)):
        return _push_annotations(conn, records, project=project, sentences=sentences, create_users=create_users,
                                 batch_size=batch_size, progress=progress)


def _push_annotations(conn: Connection, records: Iterable[AnnotationRecord], *, project: str,
                      sentences: Mapping[str, SentenceRecord] | None, create_users: bool, batch_size: int,
                      progress: bool) -> PushResult:
    labels = load_label_set()
    project_id, created = ensure_project(conn, project, label_config=labels.xml)
    result = PushResult(project_id=project_id, project_title=project, project_created=created)
    existing = {} if created else existing_tasks(conn, project_id)

    grouped: dict[str, dict[tuple, list[AnnotationRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        grouped[record.sentence_id][(record.annotation_id, record.annotator, record.created_at)].append(record)

    members = _members(conn)
    for annotator in sorted({key[1] for groups in grouped.values() for key in groups}):
        if annotator not in members and create_users and _is_email(annotator):
            members[annotator] = _create_user(conn, annotator)
            result.users_created.append(annotator)

    new_tasks: list[dict[str, Any]] = []
    for sentence_id, groups in grouped.items():
        task = existing.get(sentence_id)
        if task is None:
            first = next(iter(groups.values()))[0]
            data = (task_data(sentences[sentence_id]) if sentences and sentence_id in sentences
                    else _data_from_records([r for rs in groups.values() for r in rs], first))
            imported, provenance = [], {}
            for position, (key, group) in enumerate(groups.items(), start=1):
                try:
                    payload, entry = _annotation_payload(group, data, members, labels)
                except TaskFormatError as exc:
                    result.errors.append(str(exc))
                    continue
                imported.append({**payload, "id": position})  # stored by Label Studio as import_id
                provenance[f"i{position}"] = entry
            new_tasks.append({"data": data, "annotations": imported,
                              "meta": {META_KEY: {"annotations": provenance}}})
            continue
        # Task already there: add the annotations it does not have, through the API.
        known = task.meta.get(META_KEY, {}).get("annotations", {})
        meta_changed = False
        for key, group in groups.items():
            source_id, annotator, created_at = key
            try:
                already = any(e.get("source_annotation_id") == source_id and e.get("annotator") == annotator
                              and e.get("created_at") == created_at for e in known.values()) or (
                    source_id in task.annotation_ids
                    and _same_annotator(conn, source_id, annotator, members=members, provenance=known))
            except LabelStudioAPIError as exc:  # unknown: reported, and not pushed (no duplicate)
                result.errors.append(str(exc))
                continue
            if already:
                result.annotations_skipped += 1
                continue
            try:
                payload, entry = _annotation_payload(group, task.data, members, labels)
            except TaskFormatError as exc:
                result.errors.append(str(exc))
                continue
            try:
                made = conn.request("POST", f"/api/tasks/{task.id}/annotations/", json=payload,
                                    what=f"adding an annotation to sentence {sentence_id!r}").json()
            except LabelStudioAPIError as exc:  # one failed item is reported; the rest is pushed
                result.errors.append(str(exc))
                continue
            known = {**known, f"a{made['id']}": entry}
            meta_changed = True
            result.annotations_added += 1
        if meta_changed:  # recorded even after a failure above, so a retry skips what was added
            meta = {**task.meta, META_KEY: {**task.meta.get(META_KEY, {}), "annotations": known}}
            try:
                conn.request("PATCH", f"/api/tasks/{task.id}/", json={"meta": meta},
                             what=f"recording annotation provenance of sentence {sentence_id!r}")
            except LabelStudioAPIError as exc:
                result.errors.append(str(exc))

    bar = tqdm(total=len(new_tasks), desc=f"push annotations to {project}", unit="task",
               disable=not progress or not new_tasks)
    made: list[int] = []
    for start in range(0, len(new_tasks), batch_size):
        batch = new_tasks[start:start + batch_size]
        try:
            response = _import(conn, project_id, batch, made,
                               what=f"importing annotated tasks {start + 1}-{start + len(batch)} into {project!r}")
        except LabelStudioAPIError as exc:
            result.errors.append(str(exc))
        else:
            result.created += response.task_count or 0
            result.annotations_added += response.annotation_count or 0
        bar.update(len(batch))
    bar.close()
    _settle_race(conn, project_id, made, result)
    result.skipped = sum(1 for s in grouped if s in existing)
    return result


def _import(conn: Connection, project_id: int, batch: list[dict[str, Any]], made: list[int], *, what: str):
    """Import one batch; the new tasks' ids are appended to ``made``."""
    with conn.errors(what):
        response = conn.sdk.projects.import_tasks(id=project_id, request=batch, return_task_ids=True)
    made.extend(int(i) for i in (response.model_dump().get("task_ids") or []))
    return response


def _settle_race(conn: Connection, project_id: int, made: list[int], result: PushResult) -> None:
    """For a server other than the local one (whose pushes all take the lock here), delete the
    tasks another push imported at the same time as this one."""
    if conn.local or not made:
        return
    try:
        removed = remove_duplicates_made(conn, project_id, made)
    except LabelStudioAPIError as exc:
        result.errors.append(f"checking for tasks pushed twice at the same time: {exc}")
        return
    result.created -= removed
    result.skipped += removed
    result.duplicates_removed += removed


def _same_annotator(conn: Connection, annotation_id: int, annotator: str, *, members: Mapping[str, int],
                    provenance: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether the task's annotation ``annotation_id`` is ``annotator``'s (a record pulled from here).

    Annotation ids are only unique within one server: a record from another server or an
    export file can carry an id that a different person's annotation has here.
    """
    found = conn.request("GET", f"/api/annotations/{annotation_id}/",
                         what=f"reading annotation {annotation_id}").json()
    entry = provenance.get(f"a{annotation_id}") or provenance.get(f"i{found.get('import_id')}")
    if entry is not None:  # pushed by Slant: the original annotator is recorded
        return entry.get("annotator") == annotator
    completed_by = found.get("completed_by")
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("id")
    return completed_by is not None and completed_by == members.get(annotator)


def _annotation_payload(group: list[AnnotationRecord], data: dict[str, Any], members: dict[str, int],
                        labels) -> tuple[dict[str, Any], dict[str, Any]]:
    """An annotation for import/the API, and the provenance kept in the task's meta."""
    first = group[0]
    statuses = {r.status for r in group}
    if len(statuses) != 1:
        raise TaskFormatError(f"annotation {first.annotation_id} of sentence {first.sentence_id!r}: "
                              f"records disagree on status {sorted(statuses)}")
    payload: dict[str, Any] = {
        "result": [] if first.status == "skipped" else annotation_result(group, data, labels=labels),
        "was_cancelled": first.status in ("skipped", "cancelled"),
        "ground_truth": any(r.ground_truth for r in group),
        "lead_time": first.lead_time,
    }
    attributed = first.annotator in members
    if attributed:
        payload["completed_by"] = members[first.annotator]
    entry = {"annotator": first.annotator, "attributed": attributed, "source_annotation_id": first.annotation_id,
             "created_at": first.created_at, "updated_at": first.updated_at}
    return payload, entry


def _data_from_records(records: list[AnnotationRecord], first: AnnotationRecord) -> dict[str, Any]:
    """Task data rebuilt from annotation records (no title, index or context: unknown)."""
    targets: dict[str, list] = {}
    for record in records:
        if record.target != "engagement":
            spans = targets.setdefault(record.target, [])
            for mention in record.mentions:
                if (mention.start, mention.end, mention.text) not in spans:
                    spans.append((mention.start, mention.end, mention.text))
    order = sorted(targets, key=lambda t: min((s for s, _, _ in targets[t]), default=float("inf")))
    from annotate.labelstudio.tasks import default_actor_name

    actors = [{"actor": actor, "name": default_actor_name(actor),
               "mentions": ", ".join(dict.fromkeys(text for _, _, text in sorted(targets[actor]))),
               "spans": [[s, e] for s, e, _ in sorted(targets[actor])]} for actor in order]
    return {"sentence_id": first.sentence_id, "article_id": first.article_id, "index": -1, "title": "",
            "source": first.source, "outlet": first.source, "text": first.text, "context_before": "", "context_after": "",
            "actors": actors}


def _members(conn: Connection) -> dict[str, int]:
    """``{email: user id}`` of the organization's users."""
    users = conn.request("GET", "/api/users/", what="listing users").json()
    if isinstance(users, dict):
        users = users.get("results", [])
    return {u["email"]: u["id"] for u in users if u.get("email")}


def _create_user(conn: Connection, email: str) -> int:
    username = email.split("@", 1)[0]
    made = conn.request("POST", "/api/users/", json={"email": email, "username": username},
                        what=f"creating user {email}").json()
    logger.info("created Label Studio user %s (id %d) to keep annotation attribution", email, made["id"])
    return made["id"]


def _is_email(value: str) -> bool:
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and " " not in value
