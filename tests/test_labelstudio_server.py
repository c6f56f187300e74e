"""The Label Studio round trip against the session's REAL server (see conftest.label_studio)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from conftest import free_port
from labelstudio_data import predictions_for, seed_sentences
from typer.testing import CliRunner

from annotate.labels import load_label_set
from annotate.labelstudio.connection import AuthenticationError, ServerNotRunningError, UnknownProjectError, connect
from annotate.labelstudio.pull import export_project, pull
from annotate.labelstudio.push import existing_tasks, find_project, push_annotations, push_sentences
from annotate.labelstudio.records import write_jsonl
from annotate.labelstudio.tasks import TASK_DATA_KEYS
from models.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.labelstudio]
LABELS = load_label_set()


def choice(name, value):
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": [value]}}


def server_keys_removed(records):
    """Records without the server's own keys (task and annotation ids differ between projects)."""
    return [{k: v for k, v in r.to_dict().items() if k not in ("task_id", "annotation_id")} for r in records]


def test_server_answers_and_a_second_start_reuses_it(label_studio):
    status = label_studio.server.status()
    assert status.running and status.healthy and status.version == "1.23.2"
    again = label_studio.server.start(timeout=30)
    assert again.pid == status.pid
    # Asking for another port while it runs is refused at once, naming the port in use.
    from annotate.labelstudio.server import LocalServer, ServerError

    elsewhere = LocalServer(state_dir=label_studio.server.state_dir, port=free_port(), venv=label_studio.server.venv)
    with pytest.raises(ServerError, match=rf"already running on port {label_studio.server.port} .*stop it first"):
        elsewhere.start(timeout=5)
    assert label_studio.server.token_file.stat().st_mode & 0o777 == 0o600
    assert len(label_studio.token()) == 40 and int(label_studio.token(), 16) >= 0


def test_project_is_created_with_the_real_label_config(label_studio, project_title):
    conn = label_studio.connection()
    result = push_sentences(conn, seed_sentences(1), project=project_title, progress=False)
    assert result.project_created and result.created == 1
    project = conn.request("GET", f"/api/projects/{result.project_id}/", what="test").json()
    assert project["label_config"].strip() == LABELS.xml.strip()
    # The server parsed the Repeater: its own validation accepts our config for this project.
    check = conn.request("POST", f"/api/projects/{result.project_id}/validate/", json={"label_config": LABELS.xml}, what="test")
    assert check.status_code == 200


def test_push_is_idempotent_and_a_grown_file_adds_only_new_sentences(label_studio, project_title):
    conn = label_studio.connection()
    sentences = seed_sentences()
    first = push_sentences(conn, sentences[:3], project=project_title, progress=False, batch_size=2)
    assert (first.created, first.skipped) == (3, 0)
    again = push_sentences(conn, sentences[:3], project=project_title, progress=False)
    assert (again.project_created, again.created, again.skipped) == (False, 0, 3)
    grown = push_sentences(conn, sentences + sentences[:1], project=project_title, progress=False)  # + a repeat
    assert (grown.created, grown.skipped) == (2, 4)
    tasks = existing_tasks(conn, find_project(conn, project_title))
    assert sorted(tasks) == sorted(s.sentence_id for s in sentences)
    assert all(set(t.data) == set(TASK_DATA_KEYS) for t in tasks.values())
    # Paging: pages of 2 still find every task (the loop follows the server's total).
    assert existing_tasks(conn, find_project(conn, project_title), page_size=2).keys() == tasks.keys()


def test_predictions_are_in_the_export_with_model_version_and_not_duplicated(label_studio, project_title):
    conn = label_studio.connection()
    sentences = seed_sentences(3)
    result = push_sentences(conn, sentences[:2], project=project_title, progress=False,
                            predictions=predictions_for(sentences[:2], "model-a"))
    assert result.predictions_added == 2
    # A grown file with a second model: the new task gets both versions, old tasks get model-b only.
    both = predictions_for(sentences, "model-a") + predictions_for(sentences, "model-b", "neutral")
    result = push_sentences(conn, sentences, project=project_title, predictions=both, progress=False)
    assert (result.created, result.predictions_added, result.predictions_skipped) == (1, 4, 2)
    again = push_sentences(conn, sentences, project=project_title, predictions=both, progress=False)
    assert (again.created, again.predictions_added, again.predictions_skipped) == (0, 0, 6)

    export = export_project(conn, result.project_id)
    assert len(export) == 3
    for task in export:
        versions = sorted(p["model_version"] for p in task["predictions"])
        assert versions == ["model-a", "model-b"]
        for prediction in task["predictions"]:
            assert prediction["score"] == pytest.approx(0.6)
            names = [r["from_name"] for r in prediction["result"]]
            assert names == [f"stance_{i}" for i in range(len(task["data"]["actors"]))] + ["engagement"]
            expected = "critical" if prediction["model_version"] == "model-a" else "neutral"
            assert {r["value"]["choices"][0] for r in prediction["result"]} == {expected}


def test_annotations_of_two_users_come_back_attributed_and_round_trip_losslessly(label_studio, project_title, tmp_path):
    conn = label_studio.connection()
    sentences = seed_sentences(3)
    pushed = push_sentences(conn, sentences, project=project_title, progress=False)
    tasks = existing_tasks(conn, pushed.project_id)
    email = f"annotator-{project_title[-6:]}@example.test"
    _, token = label_studio.create_user(email, "a-long-test-password-1")
    second = connect(label_studio.url, token)
    first_task, second_task = tasks[sentences[0].sentence_id].id, tasks[sentences[2].sentence_id].id
    # Admin labels task 1; the second user labels task 1 differently and skips task 2, each with their own token.
    conn.request("POST", f"/api/tasks/{first_task}/annotations/", what="test", json={
        "result": [choice("stance_0", "favorable"), choice("stance_1", "critical"), choice("engagement", "favorable")],
        "lead_time": 7.5, "ground_truth": True})
    second.request("POST", f"/api/tasks/{first_task}/annotations/", what="test", json={
        "result": [choice("stance_0", "neutral"), choice("not_actor_2", "not_actor"),
                   choice("engagement", LABELS.engagement_off_target[0])], "lead_time": 3.0})
    second.request("POST", f"/api/tasks/{second_task}/annotations/", what="test", json={"result": [], "was_cancelled": True})

    pulled = pull(conn, project=project_title, out=tmp_path / "annotations.jsonl")
    assert pulled.errors == [] and pulled.tasks == 3 and pulled.annotations == 3
    by = {(r.annotator, r.sentence_id, r.target): r for r in pulled.records}
    s0 = sentences[0].sentence_id
    assert by[(label_studio.admin_email, s0, "united_states")].label == "favorable"
    assert by[(label_studio.admin_email, s0, "pakistan")].label == "critical"
    assert by[(label_studio.admin_email, s0, "engagement")].label == "favorable"
    assert by[(label_studio.admin_email, s0, "engagement")].ground_truth is True
    assert by[(email, s0, "united_states")].label == "neutral"
    assert by[(email, s0, "afghan_taliban")].off_target and by[(email, s0, "afghan_taliban")].label is None
    assert by[(email, s0, "engagement")].off_target and not by[(email, s0, "engagement")].ground_truth
    assert by[(email, s0, "pakistan")].lead_time == 3.0 and by[(email, s0, "pakistan")].created_at
    skipped = [r for r in pulled.records if r.sentence_id == sentences[2].sentence_id]
    assert skipped and {(r.annotator, r.status, r.label) for r in skipped} == {(email, "skipped", None)}

    # Lossless: push the pulled records into a fresh project and pull again.
    copy = f"{project_title}-copy"
    pushed_back = push_annotations(conn, pulled.records, project=copy, progress=False)
    assert pushed_back.errors == [] and pushed_back.annotations_added == 3 and pushed_back.created == 2
    repeat = push_annotations(conn, pulled.records, project=copy, progress=False)
    assert (repeat.created, repeat.annotations_added, repeat.annotations_skipped) == (0, 0, 3)
    again = pull(conn, project=copy)
    assert server_keys_removed(again.records) == server_keys_removed(pulled.records)
    # Attribution survives as real users of the new project, not only as text.
    export = export_project(conn, find_project(conn, copy))
    assert {a["completed_by"]["email"] for t in export for a in t["annotations"]} == {label_studio.admin_email, email}

    # Into a project that already has the tasks (e.g. merging labels back): added through the API.
    merged = f"{project_title}-pre"
    push_sentences(conn, sentences, project=merged, progress=False)
    added = push_annotations(conn, pulled.records, project=merged, progress=False)
    assert (added.created, added.annotations_added, added.errors) == (0, 3, [])
    assert push_annotations(conn, pulled.records, project=merged, progress=False).annotations_skipped == 3
    assert server_keys_removed(pull(conn, project=merged).records) == server_keys_removed(pulled.records)


def one_annotated_task(conn, project_title, label):
    """A one-sentence project whose task the admin labelled ``label`` toward its first actor."""
    sentences = seed_sentences(1)
    pushed = push_sentences(conn, sentences, project=project_title, progress=False)
    task = existing_tasks(conn, pushed.project_id)[sentences[0].sentence_id]
    conn.request("POST", f"/api/tasks/{task.id}/annotations/", what="test", json={"result": [choice("stance_0", label)]})
    return pull(conn, project=project_title).records


def test_an_annotation_id_from_elsewhere_does_not_hide_another_persons_annotation(label_studio, project_title):
    """Annotation ids are per server: bob's record from another server with the id of the admin's
    annotation here is added, and only then skipped as already there."""
    import dataclasses

    conn = label_studio.connection()
    mine = one_annotated_task(conn, project_title, "favorable")
    assert pull(conn, project=project_title).annotations == 1
    assert push_annotations(conn, mine, project=project_title, progress=False).annotations_skipped == 1
    bob = f"bob-{project_title[-6:]}@example.test"
    foreign = [dataclasses.replace(r, annotator=bob, created_at="2026-03-01T09:00:00.000000Z") for r in mine]
    assert {r.annotation_id for r in foreign} == {r.annotation_id for r in mine}  # the colliding id
    added = push_annotations(conn, foreign, project=project_title, progress=False)
    assert (added.annotations_added, added.annotations_skipped, added.errors) == (1, 0, [])
    again = push_annotations(conn, foreign, project=project_title, progress=False)
    assert (again.annotations_added, again.annotations_skipped) == (0, 1)
    assert {r.annotator for r in pull(conn, project=project_title).records} == {label_studio.admin_email, bob}


def test_a_failed_annotation_request_is_reported_and_a_retry_adds_only_what_is_missing(
        label_studio, project_title, monkeypatch):
    import dataclasses

    from annotate.labelstudio.connection import Connection, LabelStudioAPIError

    conn = label_studio.connection()
    (record,) = [r for r in one_annotated_task(conn, project_title, "neutral") if r.label]
    people = [dataclasses.replace(record, annotator=f"{name}-{project_title[-6:]}@example.test",
                                  annotation_id=900 + k, created_at=f"2026-03-0{k + 1}T09:00:00.000000Z")
              for k, name in enumerate(("ann", "ben", "cat"))]
    real_request, calls = Connection.request, []

    def second_post_fails(self, method, path, **kwargs):
        if method == "POST" and path.endswith("/annotations/"):
            calls.append(path)
            if len(calls) == 2:  # a real request to the real server, failing as a 500 would
                raise LabelStudioAPIError(f"{kwargs['what']}: Label Studio answered HTTP 500")
        return real_request(self, method, path, **kwargs)

    monkeypatch.setattr(Connection, "request", second_post_fails)
    first = push_annotations(conn, people, project=project_title, progress=False)
    assert (first.annotations_added, len(first.errors)) == (2, 1) and "HTTP 500" in first.errors[0]
    monkeypatch.undo()
    retry = push_annotations(conn, people, project=project_title, progress=False)
    assert (retry.annotations_added, retry.annotations_skipped, retry.errors) == (1, 2, [])
    annotations_of: dict[str, set] = {}
    for r in pull(conn, project=project_title).records:
        annotations_of.setdefault(r.annotator, set()).add(r.annotation_id)
    assert set(annotations_of) == {record.annotator} | {p.annotator for p in people}
    assert all(len(ids) == 1 for ids in annotations_of.values()), annotations_of  # no duplicate


def test_round_trip_of_records_whose_annotators_are_not_users(label_studio, project_title, tmp_path):
    """An export file with bare user ids (as the seeds' gold labels have) survives a push and pull."""
    from annotate.labelstudio.pull import pull_from_file
    from annotate.labelstudio.tasks import task_data

    data = task_data(seed_sentences(1)[0])
    export = [{"id": 1, "data": data, "meta": {}, "predictions": [], "annotations": [
        {"id": 5, "completed_by": 41, "result": [choice("stance_1", "critical")], "was_cancelled": False,
         "ground_truth": False, "created_at": "2026-02-01T10:00:00.000000Z", "updated_at": "2026-02-01T10:02:00.000000Z",
         "lead_time": 30.0}]}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    records = pull_from_file(path).records
    assert {r.annotator for r in records} == {"41"}
    conn = label_studio.connection()
    result = push_annotations(conn, records, project=project_title, progress=False)
    assert result.users_created == [] and result.annotations_added == 1
    assert server_keys_removed(pull(conn, project=project_title).records) == server_keys_removed(records)


# -- errors ---------------------------------------------------------------------------------------

def test_server_not_running_is_a_clear_error():
    port = free_port()
    with pytest.raises(ServerNotRunningError, match=f"no Label Studio server answers at http://127.0.0.1:{port}"):
        connect(f"http://127.0.0.1:{port}", "0" * 40)


def test_a_dropped_connection_is_a_clear_error():
    """A server that hangs up without answering (a crash, a proxy restart) is named, not a traceback."""
    import socket
    import threading

    from annotate.labelstudio.connection import Connection, LabelStudioAPIError

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def hang_up():
        for _ in range(2):
            peer, _ = listener.accept()
            peer.recv(65536)
            peer.close()

    threading.Thread(target=hang_up, daemon=True).start()
    token = "a" * 40
    try:
        with pytest.raises(LabelStudioAPIError, match=f"listing tasks: the connection to Label Studio at "
                                                      f"http://127.0.0.1:{port} failed") as error:
            Connection(f"http://127.0.0.1:{port}", token).request("GET", "/api/tasks", what="listing tasks")
        with pytest.raises(LabelStudioAPIError, match="listing tasks of project 7: the connection .* failed"):
            existing_tasks(Connection(f"http://127.0.0.1:{port}", token), 7)  # the paging loop of push
    finally:
        listener.close()
    assert token not in str(error.value)


def test_wrong_token_is_a_clear_error_without_the_token(label_studio):
    wrong = "f" * 40
    with pytest.raises(AuthenticationError, match="rejected the API token") as error:
        connect(label_studio.url, wrong)
    assert wrong not in str(error.value) and label_studio.token() not in str(error.value)


def test_unknown_project_lists_the_projects_there(label_studio, project_title):
    conn = label_studio.connection()
    push_sentences(conn, seed_sentences(1), project=project_title, progress=False)
    with pytest.raises(UnknownProjectError, match=f"no project titled 'no-such-project'.*{project_title}"):
        pull(conn, project="no-such-project")


# -- the command line -----------------------------------------------------------------------------

@pytest.fixture
def cli_env(label_studio, monkeypatch):
    """The CLI finds the session's server through SLANT_HOME's token file, not through env vars."""
    monkeypatch.setenv("SLANT_HOME", str(label_studio.home))
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    return label_studio


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def test_cli_round_trip_and_no_token_in_any_output(cli_env, project_title, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    token = cli_env.token()
    sentences = tmp_path / "sentences.jsonl"
    write_jsonl(seed_sentences(), sentences)
    predictions = tmp_path / "predictions.jsonl"
    write_jsonl(predictions_for(seed_sentences(), "cli-model"), predictions)
    outputs = []

    code, out = run("labelstudio", "status")
    outputs.append(out)
    assert code == 0 and "healthy" in out and cli_env.url in out
    code, out = run("push", sentences, "--project", project_title, "--predictions", predictions, "--batch-size", 2)
    outputs.append(out)
    assert code == 0 and "5 task(s) created" in out and "5 prediction(s) added" in out
    code, out = run("push", sentences, "--project", project_title, "--predictions", predictions)
    outputs.append(out)
    assert code == 0 and "0 task(s) created, 5 already there" in out and "0 prediction(s) added, 5 already there" in out

    conn = cli_env.connection()
    task = next(iter(existing_tasks(conn, find_project(conn, project_title)).values()))
    conn.request("POST", f"/api/tasks/{task.id}/annotations/", json={"result": [choice("engagement", "neutral")]}, what="test")
    out_file = tmp_path / "annotations.jsonl"
    code, out = run("pull", "--project", project_title, "--out", out_file)
    outputs.append(out)
    assert code == 0 and f"written to {out_file}" in out
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(lines) == len(task.data["actors"]) + 1 and {l["annotator"] for l in lines} == {cli_env.admin_email}

    code, out = run("push", out_file, "--project", f"{project_title}-copy")  # annotation records detected
    outputs.append(out)
    assert code == 0 and "1 annotation(s) added" in out

    for args in (["pull", "--project", "no-such-project", "--out", tmp_path / "x.jsonl"],):
        code, out = run(*args)
        outputs.append(out)
        assert code == 1 and "error: no project titled 'no-such-project'" in out and "Traceback" not in out

    log_text = "\n".join(r.getMessage() for r in caplog.records)
    for text in outputs + [log_text, cli_env.server.log_file.read_text(errors="replace")]:
        assert token not in text


def test_cli_errors_for_wrong_token_stopped_server_and_malformed_export(cli_env, monkeypatch, tmp_path):
    sentences = tmp_path / "sentences.jsonl"
    write_jsonl(seed_sentences(1), sentences)
    wrong = "a" * 40
    monkeypatch.setenv("LABEL_STUDIO_URL", cli_env.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", wrong)
    code, out = run("push", sentences, "--project", "never-created")
    assert code == 1 and "rejected the API token" in out and wrong not in out and "Traceback" not in out

    monkeypatch.setenv("LABEL_STUDIO_URL", f"http://127.0.0.1:{free_port()}")
    code, out = run("pull", "--project", "anything", "--out", tmp_path / "x.jsonl")
    assert code == 1 and "no Label Studio server answers" in out and wrong not in out

    broken = tmp_path / "export.json"
    broken.write_text('[{"id": 3, "data": {"text": "x"}, "annotations": [}]')
    code, out = run("pull", "--from-file", broken, "--out", tmp_path / "y.jsonl")
    assert code == 1 and str(broken) in out and "not valid JSON" in out and not (tmp_path / "y.jsonl").exists()
    # An export with no readable task leaves an earlier annotations file as it was.
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_text('{"kept": true}\n')
    other = tmp_path / "other.json"
    other.write_text('[{"id": 1, "data": {"image": "a.png"}, "annotations": []}]')
    code, out = run("pull", "--from-file", other, "--out", earlier)
    assert code == 1 and f"nothing written to {earlier}" in out and earlier.read_text() == '{"kept": true}\n'
    code, out = run("pull", "--from-file", tmp_path, "--out", earlier)
    assert code == 1 and f"{tmp_path}: is a directory" in out and "Traceback" not in out
    code, out = run("push", tmp_path, "--project", "never-created")
    assert code == 1 and f"{tmp_path}: is a directory" in out and "Traceback" not in out

    monkeypatch.setenv("SLANT_HOME", str(tmp_path / "empty-home"))
    code, out = run("labelstudio", "status")
    assert code == 1 and "not running" in out


def test_pull_from_file_reads_the_servers_own_json_export(label_studio, project_title, tmp_path):
    """The plain export the UI's Export button downloads (annotators as ids) is read by --from-file."""
    conn = label_studio.connection()
    result = push_sentences(conn, seed_sentences(2), project=project_title, progress=False)
    task = next(iter(existing_tasks(conn, result.project_id).values()))
    conn.request("POST", f"/api/tasks/{task.id}/annotations/", json={"result": [choice("stance_0", "critical")]}, what="test")
    download = httpx.get(f"{label_studio.url}/api/projects/{result.project_id}/export",
                         params={"exportType": "JSON", "download_all_tasks": "true"},
                         headers={"Authorization": f"Token {label_studio.token()}"})
    path = tmp_path / "export.json"
    path.write_bytes(download.content)
    code, out = run("pull", "--from-file", path, "--out", tmp_path / "annotations.jsonl")
    assert code == 0, out
    records = [json.loads(line) for line in (tmp_path / "annotations.jsonl").read_text().splitlines()]
    assert len(records) == len(task.data["actors"]) + 1
    online = pull(conn, project=project_title).records
    assert [r["label"] for r in records] == [r.label for r in online]
    admin_id = conn.request("GET", "/api/current-user/whoami", what="test").json()["id"]
    assert {r["annotator"] for r in records} == {str(admin_id)}  # the file has ids only: kept as they are
