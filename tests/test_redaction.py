"""Secrets never surface: a canary token planted through every error path (environment, token
file, CR/LF, inner space, non-ASCII, URL credentials and query, a stale server.json, the ML
backend's job status, HTTP errors and log) is grepped for in all the output, and each path
ends in one `error:` line, not a traceback.

Everything runs for real: the `slant` console entry point in a subprocess, loopback
listeners standing in for a server that hangs up, and `slant serve` as a process.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from loopback import Listener

from annotate.redaction import SecretFormatError, clean_secret, install_log_redaction, redact, remember_secret

REPO = Path(__file__).resolve().parent.parent


def canary() -> str:
    return "canary" + secrets.token_hex(17)  # 40 characters, like a Label Studio token


def slant(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real console entry point (logging configured as for a user) in this worktree."""
    return subprocess.run([sys.executable, "-c", "from models.cli import main; main()", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "SLANT_"))}
    env.update(SLANT_HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", SLANT_LOG_LEVEL="DEBUG")
    env.update(extra)
    return env


# -- the pure parts --------------------------------------------------------------------------------

def test_clean_secret_strips_line_ends_and_refuses_what_no_header_can_carry():
    token = canary()
    assert clean_secret(f"{token}\r\n", origin="x") == token
    assert clean_secret(f"  {token} ", origin="x") == token
    for bad, kind in ((f"{token[:10]} {token[10:]}", "a space at position 11"),
                      (f"{token}é", "a non-ASCII character at position 41"),
                      (f"{token[:5]}\x00{token[5:]}", "a control character at position 6"),
                      (" \r\n", "is empty")):
        with pytest.raises(SecretFormatError, match=kind) as error:
            clean_secret(bad, origin="$LABEL_STUDIO_API_KEY")
        assert token not in str(error.value) and "$LABEL_STUDIO_API_KEY" in str(error.value)


def test_redact_masks_known_secrets_their_repr_url_passwords_and_credential_values():
    token = canary()
    remember_secret(token + "\r")
    text = (f"LocalProtocolError: Illegal header value b'Token {token}\\r' at http://me:{token}x@h:1/p; "
            f"Authorization: Bearer abc.def-ghi-jkl; Basic dXNlcjpwYXNz")
    out = redact(text)
    assert token not in out and "abc.def-ghi-jkl" not in out and "dXNlcjpwYXNz" not in out
    assert "http://***@h:1/p" in out and "Token ***" in out and "Bearer ***" in out


def test_log_records_are_redacted_whatever_the_logger_or_handler(caplog):
    token = canary()
    remember_secret(token)
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    try:
        raise RuntimeError(f"header Token {token} refused")
    except RuntimeError:
        logging.getLogger("some.library").exception("request with %s failed", token)
    assert caplog.records and token not in caplog.text
    assert token not in logging.Formatter().format(caplog.records[-1])


# -- every CLI error path, with a canary ------------------------------------------------------------

@pytest.mark.slow
def test_a_canary_token_never_appears_in_any_cli_output(tmp_path):
    from labelstudio_data import seed_sentences

    token = canary()
    outputs: list[str] = []
    sentences = tmp_path / "sentences.jsonl"
    sentences.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in seed_sentences(2)), encoding="utf-8")

    def check(result: subprocess.CompletedProcess, expect: str) -> None:
        text = result.stdout + result.stderr
        outputs.append(text)
        assert result.returncode != 0, text
        assert "Traceback" not in result.stderr, text
        assert f"error: {expect}" in text or ("error:" in text and expect in text), text

    with Listener() as hangs_up:
        home = tmp_path / "home"
        # Environment, with the CRLF a .env file leaves: stripped, sent clean, and the server
        # hanging up is an error line without the token.
        env = clean_env(home, LABEL_STUDIO_URL=hangs_up.url, LABEL_STUDIO_API_KEY=token + "\r\n")
        check(slant("pull", "--project", "P1", "--out", str(tmp_path / "x.jsonl"), env=env), "failed")
        assert f"Token {token}\r\n".encode() in hangs_up.received  # sent stripped: one header line
        # An inner space, a non-ASCII letter, a NUL: refused before anything is sent.
        before = hangs_up.connections
        for bad in (f"{token[:20]} {token[20:]}", token + "é", token[:8] + "\x01" + token[8:]):
            env = clean_env(home, LABEL_STUDIO_URL=hangs_up.url, LABEL_STUDIO_API_KEY=bad)
            check(slant("push", str(sentences), "--project", "P1", env=env),
                  "API token in LABEL_STUDIO_API_KEY contains")
        assert hangs_up.connections == before
        # URL credentials and a token in a query string: refused, and not echoed.
        for url in (f"http://admin:{token}@127.0.0.1:{hangs_up.port}", f"{hangs_up.url}/?token={token}"):
            env = clean_env(home, LABEL_STUDIO_URL=url, LABEL_STUDIO_API_KEY="a" * 40)
            check(slant("pull", "--project", "P1", "--out", str(tmp_path / "x.jsonl"), env=env), "LABEL_STUDIO_URL")
        assert hangs_up.connections == before

    # The local server's token file, with CRLF, and a stale server.json: the port it records is
    # now someone else's listener, which must not be sent the token.
    with Listener() as squatter:
        state = tmp_path / "stale" / "labelstudio"
        state.mkdir(parents=True)
        (state / "token").write_text(token + "\r\n")
        os.chmod(state / "token", 0o600)
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
        (state / "server.json").write_text(json.dumps({"pid": int(dead), "port": squatter.port, "host": "127.0.0.1",
                                                       "url": squatter.url}))
        env = clean_env(tmp_path / "stale")
        check(slant("pull", "--project", "P1", "--out", str(tmp_path / "x.jsonl"), env=env), "is not running")
        assert token.encode() not in squatter.received
        # A token file holding a line break inside the token.
        (state / "token").write_text(token[:12] + "\r" + token[12:] + "\n")
        check(slant("pull", "--project", "P1", "--out", str(tmp_path / "x.jsonl"), env=env), "token file")
        assert token.encode() not in squatter.received

    for text in outputs:
        assert token not in text and token[:12] not in text, text


# -- the ML backend: job status, HTTP answers and its log ------------------------------------------

@pytest.mark.slow
def test_the_backend_never_shows_a_token_in_job_status_answers_or_log(tmp_path):
    from conftest import free_port
    from test_loop_backend import tiny_model

    token, setup_token = canary(), canary()
    _, model_dir = tiny_model(tmp_path)
    password = secrets.token_urlsafe(18)
    port = free_port()
    with Listener() as hangs_up:
        env = clean_env(tmp_path / "home", LABEL_STUDIO_URL=hangs_up.url, LABEL_STUDIO_API_KEY=token + "\r\n",
                        SLANT_BACKEND_PASSWORD=password)
        process = subprocess.Popen([sys.executable, "-c", "from models.cli import main; main()", "serve",
                                    "--model", str(model_dir), "--port", str(port), "--retrain-every", "0"],
                                   cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        answers: list[str] = []
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    assert process.poll() is None and time.monotonic() < deadline, "slant serve did not start"
                    time.sleep(0.3)
            with httpx.Client(base_url=base, auth=("slant", password), timeout=30) as client:
                # /setup pointing at the configured server with a CR inside its token: refused, not echoed.
                answer = client.post("/setup", json={"project": "3.17", "hostname": hangs_up.url,
                                                     "access_token": setup_token[:10] + "\r" + setup_token[10:]})
                answers.append(answer.text)
                assert answer.status_code == 403 and "access_token" in answer.json()["error"]
                # Training fetches from a server that hangs up: the job fails with a message.
                job = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 3}}).json()
                answers.append(json.dumps(job))
                job_id = job["result"]["job"]
                deadline = time.monotonic() + 90
                while client.get("/is_training").json()["is_training"]:
                    assert time.monotonic() < deadline, "the training job never finished"
                    time.sleep(0.3)
                status = client.post("/job_status", json={"job": job_id})
                answers += [status.text, client.get("/is_training").text]
                assert status.json()["status"] == "failed" and status.json()["message"]
                # Unauthenticated, the same routes say nothing.
                for path in ("/is_training", "/versions"):
                    anonymous = httpx.get(f"{base}{path}", timeout=5)
                    answers.append(anonymous.text)
                    assert anonymous.status_code == 401
        finally:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        assert f"Token {token}\r\n".encode() in hangs_up.received  # the job did reach the configured server
    log = process.stdout.read().decode()
    assert "job" in log and "failed" in log, log
    for text in [*answers, log]:
        assert token not in text and setup_token not in text and password not in text, text
