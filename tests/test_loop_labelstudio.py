"""Model in the loop against a REAL Label Studio 1.23.2: pre-annotation, `slant next`, and the
ML backend connected to a project (predictions, annotations, training, new model_version)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from labelstudio_data import seed_sentences
from test_loop_backend import contrary_result, tiny_model

pytestmark = [pytest.mark.slow, pytest.mark.labelstudio]


def export(conn, project_id: int) -> list[dict]:
    """The project's JSON export with predictions expanded (as `slant pull` reads it)."""
    from annotate.labelstudio.pull import export_project

    return export_project(conn, project_id)


def write_jsonl(path: Path, sentences) -> Path:
    path.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in sentences), encoding="utf-8")
    return path


def test_preannotations_are_in_the_export_with_model_version_and_score(label_studio, project_title, tmp_path):
    from annotate.labelstudio.push import find_project
    from models.preannotate import preannotate, score_sentences

    model, _ = tiny_model(tmp_path)
    conn = label_studio.connection()
    sentences = seed_sentences()
    result = preannotate(sentences, project=project_title, model=model, connection=conn, progress=False)
    assert result.created == len(sentences) and result.predictions_added == len(sentences), result.summary()
    assert result.errors == []

    scored = score_sentences(model, sentences)
    expected = {(r.sentence_id, r.target): r for r in scored.records}
    tasks = export(conn, find_project(conn, project_title))
    assert len(tasks) == len(sentences)
    for task in tasks:
        data = task["data"]
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == model.model_version
        scores = [r["score"] for r in prediction["result"]]
        assert prediction["score"] == pytest.approx(float(np.mean(scores)))
        targets = [a["actor"] for a in data["actors"]] + ["engagement"]
        assert [r["from_name"] for r in prediction["result"]] == [f"stance_{i}" for i in range(len(targets) - 1)] + ["engagement"]
        for target, item in zip(targets, prediction["result"]):
            record = expected[(data["sentence_id"], target)]
            assert item["value"]["choices"] == [record.label]
            assert item["score"] == pytest.approx(record.probabilities[record.label])

    again = preannotate(sentences, project=project_title, model=model, connection=conn, progress=False)
    assert again.created == 0 and again.predictions_added == 0
    assert sum(len(t["predictions"]) for t in export(conn, find_project(conn, project_title))) == len(sentences)


def test_next_pushes_the_most_uncertain_unseen_sentences(label_studio, project_title, tmp_path):
    from annotate.labelstudio.push import existing_tasks, find_project, push_sentences
    from models.preannotate import next_batch, select_next

    model, model_dir = tiny_model(tmp_path)
    conn = label_studio.connection()
    first = seed_sentences()
    other = [dataclasses.replace(s, sentence_id=f"other-{s.sentence_id}", article_id="other_article") for s in first]
    pool = first + other
    pool_file = write_jsonl(tmp_path / "pool.jsonl", pool)
    already = first[:2]
    push_sentences(conn, already, project=project_title, progress=False)

    batch = next_batch(pool_file, model_dir=model_dir, project=project_title, k=4, max_per_article=2,
                       connection=conn, progress=False)
    chosen_ids = [s.sentence_id for s in batch.chosen]
    assert len(chosen_ids) == 4 and batch.excluded == 2
    assert not set(chosen_ids) & {s.sentence_id for s in already}
    assert max(sum(s.article_id == a for s in batch.chosen) for a in ("other_article", first[0].article_id)) <= 2
    # The picks are the highest-entropy sentences under the caps (computed independently here).
    _, scores, _ = select_next(model, pool, k=len(pool), exclude_ids=set(), max_per_article=None, max_per_actor=len(pool))
    assert batch.scores == pytest.approx([scores[[s.sentence_id for s in pool].index(i)] for i in chosen_ids])
    assert batch.scores == sorted(batch.scores, reverse=True)
    assert batch.push.created == 4 and batch.push.predictions_added == 4

    in_project = existing_tasks(conn, find_project(conn, project_title))
    assert set(in_project) == {s.sentence_id for s in already} | set(chosen_ids)
    assert all(model.model_version in in_project[i].model_versions for i in chosen_ids)

    rest = next_batch(pool_file, model_dir=model_dir, project=project_title, k=50, connection=conn, progress=False)
    assert {s.sentence_id for s in rest.chosen} == {s.sentence_id for s in pool} - set(in_project)


# -- the ML backend connected to a real project -------------------------------------------------

def _allows_local_backends(lsurl: str, token: str, backend) -> bool:
    """Can this server connect a backend on 127.0.0.1, with its webhook? (1.23.2 blocks both by default)."""
    headers = {"Authorization": f"Token {token}"}
    backend_url = backend.url
    project = httpx.post(f"{lsurl}/api/projects", headers=headers, json={"title": "probe-local-ml"}).json()
    try:
        user, password = backend.auth
        created = httpx.post(f"{lsurl}/api/ml", headers=headers, timeout=30,
                             json={"url": backend_url, "project": project["id"], "is_interactive": False,
                                   "auth_method": "BASIC_AUTH", "basic_auth_user": user, "basic_auth_pass": password})
        if created.status_code != 201:
            return False
        hooks = httpx.get(f"{lsurl}/api/webhooks", headers=headers, params={"project": project["id"]}).json()
        return any(h["url"].startswith(backend_url) for h in hooks)
    finally:
        httpx.delete(f"{lsurl}/api/projects/{project['id']}", headers=headers, timeout=120)  # slow on a busy machine


@pytest.fixture(scope="module")
def ml_label_studio(label_studio, tmp_path_factory):
    """The session's server, checked to accept an ML backend on 127.0.0.1 with its webhook.

    Label Studio 1.23.2 blocks both by default; `slant labelstudio start` turns the blocks
    off (ML_BLOCK_LOCAL_IP, SSRF_PROTECTION_ENABLED) so `slant serve` works beside it.
    """
    from models.backend import ThreadedBackend
    from models.backend.service import BackendService

    probe_model, _ = tiny_model(tmp_path_factory.mktemp("probe"))
    with ThreadedBackend(BackendService(probe_model)) as probe:
        assert _allows_local_backends(label_studio.url, label_studio.token(), probe), (
            "the local Label Studio refuses ML backends or webhooks on 127.0.0.1: "
            "LocalServer.start must set ML_BLOCK_LOCAL_IP=false and SSRF_PROTECTION_ENABLED=false")
    return label_studio.url, label_studio.token()


def _retrieve_predictions(conn, project_id: int) -> None:
    response = conn.http.post("/api/dm/actions", params={"id": "retrieve_tasks_predictions", "project": project_id},
                              json={"selectedItems": {"all": True, "excluded": []}}, timeout=120)
    assert response.status_code == 200, response.text


def _versions_by_task(conn, project_id: int) -> dict[int, set[str]]:
    return {t["id"]: {p["model_version"] for p in t["predictions"]} for t in export(conn, project_id)}


def test_backend_connected_to_label_studio_predicts_and_retrains(ml_label_studio, project_title, tmp_path):
    from annotate.labelstudio.connection import connect
    from annotate.labelstudio.push import find_project, push_sentences
    from models.backend import ThreadedBackend
    from models.backend.service import BackendService, Connection, RetrainSettings

    url, token = ml_label_studio
    conn = connect(url, token)
    model, model_dir = tiny_model(tmp_path)
    sentences = seed_sentences()
    push_sentences(conn, sentences, project=project_title, progress=False)
    project_id = find_project(conn, project_title)
    service = BackendService(model, model_dir=model_dir, connection=Connection(url, token),
                             settings=RetrainSettings(retrain_every=0, min_pairs=5, save_dir=tmp_path / "retrained"))
    old = model.model_version
    with ThreadedBackend(service) as backend:
        # Label Studio is told the backend's credentials (Basic Auth, and the webhook's header).
        from models.backend.connect import connect_to_project

        ml_id = connect_to_project(conn, project_id=project_id, url=backend.url, credentials=backend.credentials)
        ml = conn.sdk.ml.get(id=ml_id)
        assert httpx.get(f"{url}/api/ml/{ml.id}", headers={"Authorization": f"Token {token}"}).json()["state"] == "CO"
        # /setup told the backend where the project lives: that alone is enough to fetch its tasks.
        from models.backend.service import fetch_project_tasks

        via_setup = service._setup_connections[str(project_id)]
        assert len(fetch_project_tasks(via_setup, project_id)) == len(sentences)

        # Label Studio asks the backend for predictions of every task.
        _retrieve_predictions(conn, project_id)
        versions = _versions_by_task(conn, project_id)
        assert len(versions) == len(sentences) and all(v == {old} for v in versions.values()), versions
        tasks = export(conn, project_id)
        for task in tasks:
            names = [r["from_name"] for r in task["predictions"][0]["result"]]
            assert names == [f"stance_{i}" for i in range(len(task["data"]["actors"]))] + ["engagement"]

        # Annotators disagree with the model on every target; Label Studio reports each new
        # annotation to the backend's webhook.
        given = {}
        for task in tasks:
            result = contrary_result(task["predictions"][0])
            given[task["id"]] = [r["value"] for r in result]
            conn.sdk.annotations.create(id=task["id"], result=result)
        deadline = time.monotonic() + 30
        while service._events_since_training.get(str(project_id), 0) < len(tasks) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert service._events_since_training.get(str(project_id)) == len(tasks)
        assert service.jobs == {}  # retrain_every=0: annotations alone do not train

        # "Start training" in Label Studio -> START_TRAINING webhook -> background job -> new model.
        conn.sdk.ml.train(id=ml.id)
        deadline = time.monotonic() + 30
        while not service.jobs and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.jobs, "Label Studio did not call the backend to train"
        assert service.wait_idle(120)
        (job,) = service.jobs.values()
        assert job.status == "done", job.message
        assert job.reason == "START_TRAINING" and job.n_pairs == sum(len(s.actors()) + 1 for s in sentences)
        new = service.model_version
        assert new != old and job.model_version == new

        # Asked again, Label Studio gets predictions from the new model version.
        _retrieve_predictions(conn, project_id)
        versions = _versions_by_task(conn, project_id)
        assert all(v == {old, new} for v in versions.values()), versions
        # The new model agrees with the annotations the old one contradicted everywhere.
        final = export(conn, project_id)
        for version, expected in ((old, 0.0), (new, None)):
            hits = [r["value"] == want for t in final for p in t["predictions"] if p["model_version"] == version
                    for r, want in zip(p["result"], given[t["id"]])]
            share = float(np.mean(hits))
            assert share == expected if expected is not None else share > 0.5, (version, share)

        # With retraining on every annotation change, an annotator's edit (ANNOTATION_UPDATED)
        # retrains on its own and yet another model version takes over.
        service.settings.retrain_every = 1
        task = final[0]
        (annotation,) = task["annotations"]
        edited = [dict(r, value={"choices": [r["value"]["choices"][0] == "neutral" and "critical" or "neutral"]})
                  for r in annotation["result"]]
        conn.sdk.annotations.update(id=annotation["id"], result=edited)
        deadline = time.monotonic() + 30
        while len(service.jobs) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.wait_idle(120)
        second = [j for j in service.jobs.values() if j is not job]
        assert len(second) == 1 and second[0].reason == "1 annotation events", [j.to_dict() for j in service.jobs.values()]
        assert second[0].status == "done", second[0].message
        assert service.model_version not in (old, new)


def test_cli_preannotate_then_next_dry_run(label_studio, project_title, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from annotate.labelstudio.push import existing_tasks, find_project
    from models.cli import app

    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token())
    _, model_dir = tiny_model(tmp_path)
    sentences = seed_sentences()
    first = write_jsonl(tmp_path / "first.jsonl", sentences[:3])
    pool = write_jsonl(tmp_path / "pool.jsonl", sentences)
    runner = CliRunner()

    result = runner.invoke(app, ["preannotate", str(first), "--project", project_title, "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert "3 task(s) created" in result.output and "3 prediction(s) added" in result.output
    assert label_studio.token() not in result.output

    result = runner.invoke(app, ["next", "--model", str(model_dir), "--pool", str(pool), "--project", project_title,
                                 "--k", "5", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 of 5 pool sentences (3 already in" in result.output
    listed = [line.split()[1] for line in result.output.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(s.sentence_id for s in sentences[3:])
    # A dry run pushes nothing.
    assert len(existing_tasks(label_studio.connection(), find_project(label_studio.connection(), project_title))) == 3
    # Without a server a dry run still chooses, says so, and excludes nothing; a real run fails clearly.
    from conftest import free_port

    monkeypatch.setenv("LABEL_STUDIO_URL", f"http://127.0.0.1:{free_port()}")
    args = ["next", "--model", str(model_dir), "--pool", str(pool), "--project", project_title, "--k", "5"]
    result = runner.invoke(app, [*args, "--dry-run"])
    assert result.exit_code == 0 and "5 of 5 pool sentences" in result.output, result.output
    assert "dry run without excluding" in result.output
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "no Label Studio server answers" in result.output


def test_cli_push_with_model_attaches_preannotations_to_new_and_existing_tasks(label_studio, project_title, tmp_path,
                                                                               monkeypatch):
    from typer.testing import CliRunner

    from annotate.labelstudio.push import find_project
    from models.cli import app

    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token())
    model, model_dir = tiny_model(tmp_path)
    sentences = seed_sentences()
    runner = CliRunner()
    # Two sentences first without a model, then the whole file with one: the model's version
    # goes onto the two existing tasks and the new ones, once each.
    early = write_jsonl(tmp_path / "early.jsonl", sentences[:2])
    assert runner.invoke(app, ["push", str(early), "--project", project_title]).exit_code == 0
    pool = write_jsonl(tmp_path / "all.jsonl", sentences)
    result = runner.invoke(app, ["push", str(pool), "--project", project_title, "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert label_studio.token() not in result.output
    conn = label_studio.connection()
    tasks = export(conn, find_project(conn, project_title))
    assert len(tasks) == len(sentences)
    assert all([p["model_version"] for p in t["predictions"]] == [model.model_version] for t in tasks)

    again = runner.invoke(app, ["push", str(pool), "--project", project_title, "--model", str(model_dir)])
    assert again.exit_code == 0, again.output
    assert sum(len(t["predictions"]) for t in export(conn, find_project(conn, project_title))) == len(sentences)

    bad = runner.invoke(app, ["push", str(pool), "--project", project_title, "--model", str(tmp_path / "nope")])
    assert bad.exit_code == 1 and "model directory not found" in bad.output
