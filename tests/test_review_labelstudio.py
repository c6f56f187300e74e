"""Review round trip against a real Label Studio: import the review tasks, a reviewer settles a
tie in the project, the export is pulled, and the settled label is merged back.

Annotators and reviewer are test fixtures (see ``tests/annotation_fixtures.py``); the reviewer
here is the test server's admin user, i.e. whoever labels in the review project.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate.adjudication import adjudicate, merge_reviews, write_review_tasks
from annotate.labels import load_label_set
from tests.annotation_fixtures import NEUTRAL, A, B, C, five_article_export

pytestmark = [pytest.mark.slow, pytest.mark.labelstudio]


def test_review_tasks_import_show_annotators_and_merge_back(label_studio, project_title, tmp_path: Path) -> None:
    from annotate.labelstudio.pull import export_project, records_from_export, user_emails
    from annotate.labelstudio.push import ensure_project

    labels = adjudicate(five_article_export())
    review_file = tmp_path / "review.json"
    n_tasks = write_review_tasks(labels, review_file, actor_names={"pakistan": "Pakistan"})
    conn = label_studio.connection()
    project_id, created = ensure_project(conn, project_title)
    assert created
    with conn.errors("importing review tasks"):
        conn.sdk.projects.import_tasks(id=project_id, request=json.loads(review_file.read_text()))

    exported = export_project(conn, project_id)
    assert len(exported) == n_tasks == 10
    for task in exported:  # each annotator's answer arrived as a prediction named after them
        versions = {p["model_version"] for p in task["predictions"]}
        assert versions and versions <= {A, B, C}

    # The reviewer settles one tie (pakistan in fixture-article-0/s1) in the project.
    target_task = next(t for t in exported if t["data"]["sentence_id"] == "fixture-article-0/s1")
    with conn.errors("creating the review annotation"):
        conn.sdk.annotations.create(id=target_task["id"], result=[
            {"from_name": "stance_0", "to_name": "text", "type": "choices", "value": {"choices": [NEUTRAL]}}])
    pulled = records_from_export(export_project(conn, project_id), users=user_emails(conn), labels=load_label_set())
    assert not pulled.errors
    merged = {(l.sentence_id, l.target): l for l in merge_reviews(labels, pulled.records)}
    settled = merged[("fixture-article-0/s1", "pakistan")]
    assert (settled.label, settled.resolved_by, settled.reviewer) == (NEUTRAL, "reviewer", label_studio.admin_email)
    # Ties nobody reviewed stay open; blank targets in the review (engagement here) change nothing.
    assert merged[("fixture-article-1/s1", "pakistan")].unresolved
    assert sum(l.resolved_by == "reviewer" for l in merged.values()) == 1
