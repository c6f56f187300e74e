"""LocalServer's process handling, without Label Studio: start-up failure, secrets, stop.

The real server is exercised by tests/test_labelstudio_server.py (session fixture); here a
tiny executable stands in for the `label-studio` binary so the failure paths run in a second.
"""

from __future__ import annotations

import stat

import pytest
from conftest import free_port

from annotate.labelstudio.server import LocalServer, ServerError, ensure_installed


def fake_venv(tmp_path, script: str):
    venv = tmp_path / "venv"
    binary = venv / "bin" / "label-studio"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n" + script)
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return venv


def test_a_server_that_dies_at_start_up_reports_its_log_tail_without_secrets(tmp_path):
    venv = fake_venv(tmp_path, 'echo "token is $LABEL_STUDIO_USER_TOKEN"\necho "django.db.utils.OperationalError: boom"\nexit 3\n')
    server = LocalServer(state_dir=tmp_path / "state", port=free_port(), venv=venv)
    with pytest.raises(ServerError, match="exited during start-up") as error:
        server.start(timeout=30)
    message = str(error.value)
    assert "OperationalError: boom" in message and str(server.log_file) in message
    token = server.token()
    assert len(token) == 40 and token not in message and "token is ***" in message
    assert server.token_file.stat().st_mode & 0o777 == 0o600
    assert server.password_file.stat().st_mode & 0o777 == 0o600
    assert not server.state_file.exists() and not server.status().running


def test_a_server_that_never_answers_health_times_out_and_is_stopped(tmp_path):
    venv = fake_venv(tmp_path, "trap 'exit 0' TERM\nwhile :; do sleep 0.2; done\n")  # alive, never healthy
    server = LocalServer(state_dir=tmp_path / "state", port=free_port(), venv=venv)
    with pytest.raises(ServerError, match=r"did not answer .*/health within 2 s"):
        server.start(timeout=2)
    pid = server._process.pid
    assert server._process.poll() is not None, f"pid {pid} still running after the failed start"
    assert not server.status().running


def test_stop_without_a_server_and_an_existing_install(tmp_path):
    server = LocalServer(state_dir=tmp_path / "state", port=free_port(), venv=tmp_path / "none")
    assert server.stop() is False
    status = server.status()
    assert not status.running and not status.healthy and status.pid is None
    venv = fake_venv(tmp_path, "exit 0\n")
    assert ensure_installed(venv) == venv / "bin" / "label-studio"  # present: nothing installed
