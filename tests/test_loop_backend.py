"""The ML backend over real HTTP with a real (tiny, trained) baseline model.

Covers the protocol Label Studio 1.23.2 speaks (/health, /setup, /predict, /webhook, /train,
/versions, /job_status), predictions that name the right controls, retraining in the
background without blocking predictions, and the `slant serve` command as a process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from labelstudio_data import seed_sentences

from annotate.labels import load_label_set
from annotate.labelstudio.tasks import task_data
from models.inputs import StanceInput

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent

# A small separable training set: the verb around the marked target decides the stance.
_TEMPLATES = {
    "favorable": ["{s} praised {t} for its courage.", "{s} warmly welcomed {t} and thanked it.",
                  "{s} applauded {t} as a trusted partner."],
    "critical": ["{s} condemned {t} for the attacks.", "{s} accused {t} of betrayal and lies.",
                 "{s} blamed {t} for the violence."],
    "neutral": ["{s} met {t} on Tuesday.", "{s} said {t} would travel next week.",
                "{s} and {t} held a meeting in the capital."],
}
_SUBJECTS = ["The minister", "Officials", "The spokesman", "Analysts"]
_TARGETS = ["Pakistan", "China", "the TTP", "Washington"]


def tiny_training_set() -> tuple[list[StanceInput], list[str]]:
    inputs, labels = [], []
    for label, templates in _TEMPLATES.items():
        for template in templates:
            for subject in _SUBJECTS:
                for target in _TARGETS:
                    text = template.format(s=subject, t=target)
                    start = text.index(target)
                    inputs.append(StanceInput(text=text, target=target.lower(), target_text=target,
                                              spans=((start, start + len(target)),)))
                    labels.append(label)
    return inputs, labels


def tiny_model(tmp_path: Path):
    """A real baseline fitted on the tiny set and saved, as `slant train` would leave it."""
    from models.registry import create_model, load_model

    inputs, labels = tiny_training_set()
    model = create_model("baseline").fit(inputs, labels)
    directory = tmp_path / "model"
    model.save(directory)
    return load_model(directory), directory


def tasks_for(sentences, *, start_id: int = 1) -> list[dict]:
    """Tasks as Label Studio sends them to /predict (id, data, project)."""
    return [{"id": start_id + i, "project": 1, "data": task_data(s)} for i, s in enumerate(sentences)]


def contrary_result(prediction: dict) -> list[dict]:
    """An annotation result that gives every target a different label than ``prediction`` did."""
    stance = load_label_set().stance
    result = []
    for item in prediction["result"]:
        label = stance[(stance.index(item["value"]["choices"][0]) + 1) % len(stance)]
        result.append({"from_name": item["from_name"], "to_name": "text", "type": "choices",
                       "value": {"choices": [label]}})
    return result


def annotated(tasks: list[dict], model) -> list[dict]:
    """The tasks, each with one annotation contradicting ``model`` on every target (/train payload shape)."""
    from models.backend.tasks import predict_tasks

    return [{**task, "annotations": [{"id": task["id"], "result": contrary_result(p), "was_cancelled": False}]}
            for task, p in zip(tasks, predict_tasks(model, tasks))]


def agreement(predictions: list[dict], annotated_tasks: list[dict]) -> float:
    """Share of targets where a prediction has the annotated label."""
    hits = [p_item["value"] == a_item["value"]
            for p, task in zip(predictions, annotated_tasks)
            for p_item, a_item in zip(p["result"], task["annotations"][0]["result"])]
    return sum(hits) / len(hits)


class GatedEstimator:
    """Wraps a real baseline; ``fit`` waits until the test opens the gate (to catch a blocking swap)."""

    def __init__(self, inner, gate: threading.Event):
        self.inner, self.gate = inner, gate

    def fit(self, X, y):
        assert self.gate.wait(60), "test never opened the gate"
        return self.inner.fit(X, y)


@pytest.fixture
def model_and_dir(tmp_path):
    return tiny_model(tmp_path)


@pytest.fixture
def backend(model_and_dir, tmp_path):
    from models.backend import ThreadedBackend
    from models.backend.service import BackendService, RetrainSettings

    model, directory = model_and_dir
    service = BackendService(model, model_dir=directory,
                             settings=RetrainSettings(retrain_every=0, min_pairs=5, save_dir=tmp_path / "retrained"))
    with ThreadedBackend(service) as running:
        yield running


def test_health_setup_and_versions(backend):
    health = httpx.get(f"{backend.url}/health", auth=backend.auth)
    assert health.status_code == 200
    assert health.json()["status"] == "UP"
    version = backend.service.model_version
    assert health.json()["model_version"] == version
    setup = httpx.post(f"{backend.url}/setup", auth=backend.auth, json={"project": "7.1712345678",
                                                                         "schema": load_label_set().xml})
    assert setup.status_code == 200 and setup.json() == {"model_version": version}
    # A host the backend was not told about may not become the place it fetches from.
    redirect = httpx.post(f"{backend.url}/setup", auth=backend.auth, json={
        "project": "7.1712345678", "schema": load_label_set().xml, "hostname": "http://127.0.0.1:1",
        "access_token": "x" * 40})
    assert redirect.status_code == 200 and "x" * 40 not in redirect.text
    assert backend.service._setup_connections == {}
    assert httpx.get(f"{backend.url}/versions", auth=backend.auth).json()["versions"] == [version]
    assert httpx.get(f"{backend.url}/", auth=backend.auth).status_code == 200


FOREIGN_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"""


def test_setup_refuses_a_project_config_the_model_cannot_fill(backend):
    answer = httpx.post(f"{backend.url}/setup", auth=backend.auth, json={"project": "7.1712345678", "schema": FOREIGN_CONFIG})
    assert answer.status_code == 400
    assert "project 7 label config" in answer.json()["error"] and "stance" in answer.json()["error"]
    # Stance choices in another order than the model's classes would swap the labels.
    swapped = load_label_set().xml.replace('alias="critical"/>', 'alias="tmp"/>', 1)
    swapped = swapped.replace('alias="favorable"/>', 'alias="critical"/>', 1).replace('alias="tmp"/>', 'alias="favorable"/>', 1)
    answer = httpx.post(f"{backend.url}/setup", auth=backend.auth, json={"project": 8, "schema": swapped})
    assert answer.status_code == 400
    assert "['favorable', 'neutral', 'critical']" in answer.json()["error"]
    # No schema (older servers) and a new project's blank config are not checked.
    assert httpx.post(f"{backend.url}/setup", auth=backend.auth, json={"project": 9}).status_code == 200
    assert httpx.post(f"{backend.url}/setup", auth=backend.auth, json={"project": 9, "schema": "<View></View>"}).status_code == 200


def test_predict_refuses_a_foreign_label_config_and_names_the_project(backend):
    tasks = tasks_for(seed_sentences()[:2])
    answer = httpx.post(f"{backend.url}/predict", auth=backend.auth, json={"tasks": tasks, "project": "4.17", "label_config": FOREIGN_CONFIG})
    assert answer.status_code == 400 and "project 4 label config" in answer.json()["error"]


def test_predict_gives_one_prediction_per_task_with_a_choice_per_target(backend, model_and_dir):
    model, _ = model_and_dir
    labels = load_label_set()
    sentences = seed_sentences()
    tasks = tasks_for(sentences)
    response = httpx.post(f"{backend.url}/predict", auth=backend.auth, json={"tasks": tasks, "project": "1.1712345678",
                                                          "label_config": labels.xml, "params": {"context": None}})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(tasks)
    for task, prediction, sentence in zip(tasks, results, sentences):
        assert prediction["model_version"] == model.model_version
        names = [r["from_name"] for r in prediction["result"]]
        actors = task["data"]["actors"]
        assert names == [f"stance_{i}" for i in range(len(actors))] + ["engagement"]
        for r in prediction["result"]:
            assert r["to_name"] == "text" and r["type"] == "choices"
            assert r["value"]["choices"][0] in labels.stance
            assert 1 / len(labels.stance) <= r["score"] <= 1.0
        assert 0.0 < prediction["score"] <= 1.0
    # The labels are the model's own: predicting the same pairs directly agrees.
    from models.backend.tasks import inputs_from_task

    direct = model.predict(inputs_from_task(tasks[0]))
    assert [r["value"]["choices"][0] for r in results[0]["result"]] == list(direct)


def test_bad_requests_get_clear_errors_and_bad_tasks_do_not_sink_the_batch(backend):
    assert httpx.post(f"{backend.url}/predict", auth=backend.auth, content=b"{not json").status_code == 400
    response = httpx.post(f"{backend.url}/predict", auth=backend.auth, json={"tasks": "nope"})
    assert response.status_code == 400 and "tasks" in response.json()["error"]
    good = tasks_for(seed_sentences(1))[0]
    bad = {"id": 99, "data": {"sentence_id": "x"}}  # no text
    results = httpx.post(f"{backend.url}/predict", auth=backend.auth, json={"tasks": [bad, "x", {"id": 3, "data": None}, good]}).json()
    results = results["results"]
    assert len(results) == 4
    assert [r["result"] for r in results[:3]] == [[], [], []]
    assert len(results[3]["result"]) == len(good["data"]["actors"]) + 1
    unknown = httpx.post(f"{backend.url}/webhook", auth=backend.auth, json={"action": "PROJECT_UPDATED", "project": {"id": 1}})
    assert unknown.status_code == 200 and unknown.json()["status"] == "Unknown event"
    assert httpx.post(f"{backend.url}/train", auth=backend.auth, json={"annotations": [], "project": "1.1"}).status_code == 400
    # Not a list: refused, and no job is left "queued" that nothing will run.
    for payload in (5, True):
        response = httpx.post(f"{backend.url}/train", auth=backend.auth, json={"annotations": payload, "project": "7"})
        assert response.status_code == 400 and "must be a list" in response.json()["error"]
    assert not backend.service.is_training()
    # Actor ids that are not strings, spans outside the text, a repeated actor: that task gets an
    # empty prediction, the others are still predicted.
    text = good["data"]["text"]
    broken = [{"id": 10, "data": {**good["data"], "actors": [{"actor": 5, "spans": [[0, 1]]}]}},
              {"id": 11, "data": {**good["data"], "actors": [{"actor": "pakistan", "spans": [[len(text) + 5, len(text) + 9]]}]}},
              {"id": 12, "data": {**good["data"], "actors": [{"actor": "pakistan", "spans": [[4, 2]]}]}},
              {"id": 13, "data": {**good["data"], "actors": [good["data"]["actors"][0]] * 2}}]
    response = httpx.post(f"{backend.url}/predict", auth=backend.auth, json={"tasks": [*broken, good]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["result"] for r in results[:4]] == [[], [], [], []]
    assert len(results[4]["result"]) == len(good["data"]["actors"]) + 1


def test_annotation_webhooks_are_counted_without_training_when_retraining_is_manual(backend):
    payload = {"action": "ANNOTATION_CREATED", "project": {"id": 3, "label_config": "<View/>"},
               "annotation": {"id": 1, "result": []}, "task": {"id": 1}}
    for expected in (1, 2):
        response = httpx.post(f"{backend.url}/webhook", auth=backend.auth, json=payload)
        assert response.status_code == 201
        assert response.json()["result"] == {"status": "recorded", "events_since_training": expected}
    assert backend.service.jobs == {}


def test_training_runs_in_the_background_and_swaps_the_model(model_and_dir, tmp_path):
    """/train starts a job; predictions keep answering with the old model until the new one is in."""
    from models.backend import ThreadedBackend
    from models.backend.service import BackendService, RetrainSettings, fresh_estimator

    model, directory = model_and_dir
    gate = threading.Event()
    service = BackendService(model, model_dir=directory,
                             settings=RetrainSettings(retrain_every=0, min_pairs=5, save_dir=tmp_path / "retrained"),
                             make_estimator=lambda m, d: GatedEstimator(fresh_estimator(m, d), gate))
    old = model.model_version
    tasks = tasks_for(seed_sentences())
    with ThreadedBackend(service) as backend:
        # Labels the tiny model does not predict: every target gets another label than the model's.
        labeled = annotated(tasks, model)
        response = httpx.post(f"{backend.url}/train", auth=backend.auth, json={"annotations": labeled, "project": "1.1712345678"})
        assert response.status_code == 201
        job = response.json()["job"]
        assert httpx.get(f"{backend.url}/is_training", auth=backend.auth).json()["is_training"] is True
        started = time.perf_counter()
        during = httpx.post(f"{backend.url}/predict", auth=backend.auth, json={"tasks": tasks}, timeout=10)
        assert during.status_code == 200 and time.perf_counter() - started < 5
        assert {p["model_version"] for p in during.json()["results"]} == {old}
        gate.set()
        assert service.wait_idle(60)
        status = httpx.post(f"{backend.url}/job_status", auth=backend.auth, json={"job": job}).json()
        assert status["status"] == "done", status
        new = service.model_version
        assert new != old and status["model_version"] == new
        after = httpx.post(f"{backend.url}/predict", auth=backend.auth, json={"tasks": tasks}).json()["results"]
        assert {p["model_version"] for p in after} == {new}
        # The new model learned the annotations the old one contradicted everywhere.
        assert agreement(during.json()["results"], labeled) == 0.0
        assert agreement(after, labeled) > 0.5
        assert httpx.get(f"{backend.url}/versions", auth=backend.auth).json()["versions"] == [old, new]
    # The retrained model was saved whole and loads back with the same version.
    from models.registry import load_model

    saved = [p for p in (tmp_path / "retrained").iterdir() if not p.name.startswith(".")]
    assert len(saved) == 1 and load_model(saved[0]).model_version == new


def test_malformed_annotations_are_counted_not_fatal_for_training(backend):
    from models.backend.tasks import training_pairs_from_tasks

    tasks = annotated(tasks_for(seed_sentences(3)), backend.service.model)
    tasks[0]["annotations"] = [None]
    tasks[1]["annotations"][0]["result"] = ["oops"]
    inputs, labels, counts = training_pairs_from_tasks(tasks)
    assert counts["bad_annotations"] == 2 and counts["pairs"] == len(inputs) == len(labels) > 0


def test_min_pairs_counts_the_projects_labels_not_the_base_data(model_and_dir, tmp_path):
    from models.backend.service import BackendService, RetrainSettings, TrainingDataError

    model, directory = model_and_dir
    base_inputs, base_labels = tiny_training_set()
    service = BackendService(model, model_dir=directory, settings=RetrainSettings(
        retrain_every=0, min_pairs=5, save_dir=tmp_path / "retrained", base_inputs=base_inputs,
        base_labels=base_labels))
    with pytest.raises(TrainingDataError, match="0 labeled pairs in the project"):
        service.train_on_tasks(tasks_for(seed_sentences(2)))  # no annotations at all


def test_an_annotation_event_does_not_join_a_queued_train_call_that_will_not_fetch(model_and_dir, tmp_path):
    """A queued /train job trains on its payload; newer annotations need a job of their own."""
    from models.backend.service import BackendService, RetrainSettings, fresh_estimator

    model, directory = model_and_dir
    gate, fetched = threading.Event(), []
    newest = annotated(tasks_for(seed_sentences()), model)

    def fetch(connection, project_id):
        fetched.append(project_id)
        return newest

    service = BackendService(model, model_dir=directory,
                             settings=RetrainSettings(retrain_every=0, min_pairs=1, save_dir=tmp_path / "retrained"),
                             fetch_tasks=fetch, make_estimator=lambda m, d: GatedEstimator(fresh_estimator(m, d), gate))
    service._connection_for = lambda project: None  # the fetch above needs no server
    running = service.start_training("7", reason="first", tasks=newest)
    payload_job = service.start_training("7", reason="/train call", tasks=newest[:3])
    event_job = service.start_training("7", reason="annotation events")
    assert len({running.job_id, payload_job.job_id, event_job.job_id}) == 3
    assert service.start_training("7", reason="more events").job_id == event_job.job_id  # fetching jobs merge
    gate.set()
    assert service.wait_idle(60)
    assert fetched == [7]  # only the event job fetched
    assert event_job.status == "done" and event_job.n_pairs == running.n_pairs


def test_queued_training_jobs_run_in_the_order_they_were_started(model_and_dir, tmp_path):
    """/train payloads queued behind a running job train in order, so the model
    served at the end is the one trained on the last payload."""
    from models.backend.service import BackendService, RetrainSettings, fresh_estimator

    model, directory = model_and_dir
    gate, sizes = threading.Event(), []

    class Recording(GatedEstimator):
        def fit(self, X, y):
            sizes.append(len(X))
            return super().fit(X, y)

    service = BackendService(model, model_dir=directory,
                             settings=RetrainSettings(retrain_every=0, min_pairs=1, max_queued_jobs=20),
                             make_estimator=lambda m, d: Recording(fresh_estimator(m, d), gate))
    from models.backend.tasks import training_pairs_from_tasks

    labeled = annotated(tasks_for(seed_sentences()) + tasks_for(seed_sentences(prefix="again-"), start_id=100), model)
    by_size = {}  # payloads of growing size, each with a different number of pairs (of two classes at least)
    for n in range(1, len(labeled) + 1):
        _, y, _ = training_pairs_from_tasks(labeled[:n])
        if len(set(y)) > 1:
            by_size.setdefault(len(y), labeled[:n])
    payloads = [by_size[k] for k in sorted(by_size) if k]
    assert len(payloads) >= 4
    jobs = [service.start_training("7", reason="/train", tasks=payload) for payload in payloads]
    gate.set()
    assert service.wait_idle(60)
    assert [job.status for job in jobs] == ["done"] * len(jobs)
    pairs = [job.n_pairs for job in jobs]
    assert sizes == pairs and pairs == sorted(set(pairs))
    assert [job.finished_at for job in jobs] == sorted(job.finished_at for job in jobs)
    assert service.model_version == jobs[-1].model_version


def test_training_with_too_few_labels_is_skipped_not_crashed(backend):
    tasks = tasks_for(seed_sentences(1))
    job = httpx.post(f"{backend.url}/train", auth=backend.auth, json={"annotations": annotated(tasks, backend.service.model),
                                                   "project": "1.1"}).json()["job"]
    assert backend.service.wait_idle(30)
    status = httpx.post(f"{backend.url}/job_status", auth=backend.auth, json={"job": job}).json()
    assert status["status"] == "skipped" and "need at least" in status["message"]
    assert httpx.get(f"{backend.url}/health", auth=backend.auth).json()["status"] == "UP"


def test_slant_serve_command_answers_and_stops_by_pid(model_and_dir):
    from conftest import free_port

    _, directory = model_and_dir
    port = free_port()
    password = "serve-test-" + "p" * 20
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LABEL_STUDIO_URL": "http://127.0.0.1:1", "LABEL_STUDIO_API_KEY": "k" * 40,
           "SLANT_BACKEND_USER": "ls", "SLANT_BACKEND_PASSWORD": password}
    process = subprocess.Popen([sys.executable, "-c", "from models.cli import main; main()", "serve", "--model",
                                str(directory), "--port", str(port)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "slant serve did not answer within 60 s"
                time.sleep(0.3)
        assert health.json()["status"] == "UP"
        anonymous = httpx.post(f"http://127.0.0.1:{port}/predict", json={"tasks": tasks_for(seed_sentences(2))})
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
        prediction = httpx.post(f"http://127.0.0.1:{port}/predict", json={"tasks": tasks_for(seed_sentences(2))},
                                auth=("ls", password))
        assert len(prediction.json()["results"]) == 2
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    output = process.stdout.read().decode()
    assert "serving" in output and "k" * 40 not in output and password not in output
    assert "Basic Auth: user 'ls'" in output


def test_slant_serve_rejects_a_missing_model_dir(tmp_path):
    process = subprocess.run([sys.executable, "-c", "from models.cli import main; main()", "serve", "--model",
                              str(tmp_path / "nope")], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert process.returncode != 0
    assert "model directory not found" in process.stderr and "Traceback" not in process.stderr


def test_transformer_retraining_continues_from_the_served_checkpoint(tmp_path):
    """The backend's transformer path: a retraining starts from the checkpoint being served
    (not the base model), with its training arguments, and the result is saved and served."""
    from models.backend.service import BackendService, RetrainSettings, fresh_estimator
    from models.registry import load_model
    from models.testing import tiny_bert
    from models.training_args import TrainingArguments
    from models.transformer import TransformerStanceClassifier

    inputs, labels = tiny_training_set()
    args = TrainingArguments(learning_rate=3e-3, epochs=8, batch_size=16, warmup_ratio=0.0, threads=2,
                             show_progress=False, pooling="mean+target")
    served_dir = tmp_path / "served"
    TransformerStanceClassifier(base_model=tiny_bert(tmp_path / "tiny"), args=args).fit(inputs, labels).save(served_dir)
    served = load_model(served_dir)

    estimator = fresh_estimator(served, served_dir)
    assert isinstance(estimator, TransformerStanceClassifier)
    assert str(estimator.base_model) == str(served_dir)
    assert estimator.args.to_dict() == {**served.metadata_["training_args"], "show_progress": False}

    service = BackendService(served, model_dir=served_dir,
                             settings=RetrainSettings(retrain_every=0, min_pairs=5, save_dir=tmp_path / "retrained"))
    tasks = tasks_for(seed_sentences())
    labeled = annotated(tasks, served)
    before = agreement(service.predict(tasks), labeled)
    job = service.start_training("1", reason="test", tasks=labeled)
    assert service.wait_idle(300)
    assert job.status == "done", job.message
    assert service.model_version != served.model_version and service.model.kind == "transformer"
    # It learned the project's labels, which contradicted the served model on every target.
    assert before == 0.0 and agreement(service.predict(tasks), labeled) > before
    saved = [p for p in (tmp_path / "retrained").iterdir() if not p.name.startswith(".")]
    assert len(saved) == 1 and load_model(saved[0]).model_version == service.model_version
