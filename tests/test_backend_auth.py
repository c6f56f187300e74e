"""The ML backend over real HTTP: credentials on every route but /health, /setup may not
redirect it to another host, a bounded training queue, retention of model folders, and
hostile bodies answered with a 4xx on a connection that stays usable."""

from __future__ import annotations

import base64
import os
import stat
import threading
import time

import httpx
import pytest
from labelstudio_data import seed_sentences
from test_loop_backend import GatedEstimator, annotated, tasks_for, tiny_model

from annotate.labels import load_label_set

pytestmark = pytest.mark.slow

ROUTES = [("GET", "/"), ("POST", "/setup"), ("POST", "/predict"), ("POST", "/webhook"), ("POST", "/train"),
          ("GET", "/versions"), ("POST", "/job_status"), ("GET", "/is_training"), ("GET", "/metrics"),
          ("POST", "/validate")]


@pytest.fixture
def served(tmp_path):
    from models.backend import ThreadedBackend
    from models.backend.service import BackendService, RetrainSettings

    model, directory = tiny_model(tmp_path)
    service = BackendService(model, model_dir=directory, settings=RetrainSettings(
        retrain_every=1, min_pairs=5, save_dir=tmp_path / "retrained"))
    with ThreadedBackend(service) as backend:
        yield backend


def test_no_route_but_health_answers_or_changes_anything_without_credentials(served, tmp_path):
    service = served.service
    version = service.model_version
    tasks = tasks_for(seed_sentences())
    crafted = annotated(tasks, service.model)  # 5 tasks labelled against the model: would flip it
    bodies = {"/setup": {"project": "1.1", "hostname": "http://127.0.0.1:9", "access_token": "t" * 40},
              "/predict": {"tasks": tasks}, "/webhook": {"action": "START_TRAINING", "project": {"id": 1}},
              "/train": {"annotations": crafted, "project": "1.1"}, "/job_status": {"job": "x"}}
    wrong = [None, ("slant-test", "wrong-password"), ("someone", served.auth[1]),
             {"Authorization": "Bearer wrong"}, {"Authorization": "Basic !!notbase64"},
             {"Authorization": "Token " + served.auth[1]}]
    for method, path in ROUTES:
        for credentials in wrong:
            headers = credentials if isinstance(credentials, dict) else None
            auth = credentials if isinstance(credentials, tuple) else None
            answer = httpx.request(method, f"{served.url}{path}", json=bodies.get(path), auth=auth, headers=headers)
            assert answer.status_code == 401, (method, path, credentials, answer.text)
            assert answer.headers["www-authenticate"].startswith("Basic")
            assert served.auth[1] not in answer.text
    # Nothing moved: no job, no training, no setup connection, no saved model.
    assert service.jobs == {} and service._setup_connections == {} and service.model_version == version
    assert not (tmp_path / "retrained").exists()
    # /health stays open (Label Studio and load balancers probe it), and says nothing private.
    assert httpx.get(f"{served.url}/health").json() == {"status": "UP", "model_class": type(service.model).__name__,
                                                        "model_version": version}
    # The right credentials work, as Basic Auth (what Label Studio sends) or as a bearer token.
    assert httpx.post(f"{served.url}/predict", json={"tasks": tasks}, auth=served.auth).status_code == 200
    bearer = {"Authorization": f"Bearer {served.auth[1]}"}
    assert httpx.get(f"{served.url}/versions", headers=bearer).status_code == 200
    basic = "Basic " + base64.b64encode(f"{served.auth[0]}:{served.auth[1]}".encode()).decode()
    assert httpx.get(f"{served.url}/versions", headers={"Authorization": basic}).status_code == 200


def test_setup_may_only_point_the_backend_at_an_allowed_label_studio(tmp_path):
    from models.backend import ThreadedBackend
    from models.backend.service import BackendService, Connection, RetrainSettings

    model, _ = tiny_model(tmp_path)
    service = BackendService(model, connection=Connection("http://127.0.0.1:8080", "c" * 40),
                             settings=RetrainSettings(allowed_hosts=("https://ls.example.test/",)))
    schema = load_label_set().xml
    with ThreadedBackend(service) as backend:
        def setup(hostname: str, project: str = "4.1"):
            return httpx.post(f"{backend.url}/setup", auth=backend.auth, json={
                "project": project, "schema": schema, "hostname": hostname, "access_token": "s" * 40})

        for foreign in ("http://127.0.0.1:9999", "http://attacker.test:8080", "https://ls.example.test.evil:443",
                        "http://user:pw@127.0.0.1:8080", "file:///etc/passwd"):
            answer = setup(foreign)  # Label Studio still connects; the backend will not fetch from there
            assert answer.status_code == 200 and answer.json() == {"model_version": service.model_version}
            assert "s" * 40 not in answer.text
        assert service._setup_connections == {}
        # A training job for that project then says why it has nowhere to fetch from.
        no_conn = BackendService(model, settings=RetrainSettings(min_pairs=1))
        no_conn.setup({"project": "6.1", "hostname": "http://attacker.test:8080", "access_token": "s" * 40})
        job = no_conn.start_training("6", reason="test")
        assert no_conn.wait_idle(30) and job.status == "failed"
        assert "'http://attacker.test:8080', which is not allowed (--allow-label-studio" in job.message
        # The configured server (spelled differently) and an allowed one are accepted.
        assert setup("http://localhost:8080/").status_code == 200  # Label Studio calls itself localhost
        assert setup("HTTPS://LS.example.test:443", project="5.1").status_code == 200
        assert set(service._setup_connections) == {"4", "5"}


def test_training_jobs_queue_only_up_to_the_limit(tmp_path):
    from models.backend import ThreadedBackend
    from models.backend.service import BackendService, RetrainSettings

    model, directory = tiny_model(tmp_path)
    gate = threading.Event()
    service = BackendService(model, model_dir=directory,
                             settings=RetrainSettings(min_pairs=5, max_queued_jobs=2, save_dir=tmp_path / "retrained"),
                             make_estimator=lambda m, d: GatedEstimator(type(m)(**m.get_params()), gate))
    crafted = annotated(tasks_for(seed_sentences()), model)
    with ThreadedBackend(service) as backend:
        codes = [httpx.post(f"{backend.url}/train", auth=backend.auth,
                            json={"annotations": crafted, "project": "1.1"}).status_code for _ in range(6)]
        # one running + two waiting; the rest refused, with a reason
        assert codes == [201, 201, 201, 429, 429, 429], codes
        refused = httpx.post(f"{backend.url}/webhook", auth=backend.auth,
                             json={"action": "START_TRAINING", "project": {"id": 1}})
        assert refused.status_code == 429 and "wait" in refused.json()["error"]
        assert len(service.jobs) == 3
        gate.set()
        assert service.wait_idle(120)
        assert [j.status for j in service.jobs.values()] == ["done"] * 3


def test_retrained_model_folders_are_kept_to_the_newest_few(tmp_path):
    from models.backend.service import BackendService, RetrainSettings

    model, directory = tiny_model(tmp_path)
    save_dir = tmp_path / "retrained"
    save_dir.mkdir()
    (save_dir / "notes").mkdir()  # not a model: never touched
    service = BackendService(model, model_dir=directory,
                             settings=RetrainSettings(min_pairs=5, keep_models=2, save_dir=save_dir))
    tasks = tasks_for(seed_sentences())
    for round_ in range(4):
        labelled = annotated(tasks, service.model) if round_ % 2 == 0 else annotated(tasks, model)
        service.start_training("1", reason="test", tasks=labelled)
        assert service.wait_idle(120)
        time.sleep(0.05)  # distinct modification times
    assert all(job.status == "done" for job in service.jobs.values()), [j.message for j in service.jobs.values()]
    kept = sorted(p.name for p in save_dir.iterdir() if (p / "slant_model.json").is_file())
    assert len(kept) == 2 and (save_dir / "notes").is_dir()
    assert service._model_dir.name in kept  # the model being served is one of them


def test_a_very_deep_or_huge_body_is_a_4xx_and_the_connection_keeps_working(served):
    deep = b"[" * 100_000 + b"]" * 100_000
    with httpx.Client(base_url=served.url, auth=served.auth, timeout=30) as client:
        answer = client.post("/predict", content=deep, headers={"content-type": "application/json"})
        assert answer.status_code == 400 and "nested too deeply" in answer.json()["error"]
        after = client.post("/predict", json={"tasks": tasks_for(seed_sentences(1))})
        assert after.status_code == 200 and len(after.json()["results"]) == 1
        assert client.get("/health").status_code == 200


def test_credentials_come_from_the_environment_or_a_private_file(tmp_path, monkeypatch):
    from models.backend.auth import CredentialsError, load_credentials

    for name in ("SLANT_BACKEND_USER", "SLANT_BACKEND_PASSWORD", "SLANT_BACKEND_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLANT_HOME", str(tmp_path))
    with pytest.raises(CredentialsError, match="no ML backend credentials"):
        load_credentials()
    made = load_credentials(create=True)  # what `slant serve` does on first use
    path = tmp_path / "backend" / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and made.username == "slant" and len(made.password) >= 24
    assert load_credentials() == made
    os.chmod(path, 0o644)
    with pytest.raises(CredentialsError, match="readable by others .*chmod 600") as error:
        load_credentials()
    assert made.password not in str(error.value)
    monkeypatch.setenv("SLANT_BACKEND_USER", "ls")
    with pytest.raises(CredentialsError, match="SLANT_BACKEND_PASSWORD is not"):
        load_credentials()
    monkeypatch.setenv("SLANT_BACKEND_PASSWORD", "from-the-env-123\r\n")
    assert load_credentials().password == "from-the-env-123" and load_credentials().username == "ls"
    assert "from-the-env" not in repr(load_credentials())


def test_binding_beyond_loopback_is_warned_about():
    from models.backend import exposure_warning

    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    assert exposure_warning("localhost") is None
    for host in ("0.0.0.0", "192.168.1.4", "::", "backend.example.test"):
        assert "other machines can reach" in exposure_warning(host)


def test_slant_serve_warns_before_binding_beyond_loopback(tmp_path):
    """The warning comes before anything listens: here the start then stops at a missing
    --base-data, so no socket is ever opened on 0.0.0.0."""
    import subprocess
    import sys
    from pathlib import Path

    _, model_dir = tiny_model(tmp_path)
    env = {**os.environ, "SLANT_HOME": str(tmp_path / "home"), "SLANT_BACKEND_PASSWORD": "p" * 24,
           "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", "from models.cli import main; main()", "serve", "--model",
                           str(model_dir), "--host", "0.0.0.0", "--base-data", str(tmp_path / "no-such-data")],
                          cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "warning: listening on 0.0.0.0: other machines can reach this backend" in done.stderr
    assert "p" * 24 not in done.stdout + done.stderr
