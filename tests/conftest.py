"""Shared fixtures. ``label_studio``: ONE real Label Studio server for the whole session.

The server runs from the real 1.23.2 venv (``$SLANT_HOME/label-studio-1.23.2``, installed
on first use) with its state (token, password, SQLite data) in a temporary SLANT_HOME, on
a free loopback port, and is stopped by pid at the end of the session. First start on an
empty data dir takes about 50 s (database migrations).

Developer loop: start a server once with ``SLANT_HOME=/tmp/x slant labelstudio start --port N``
and run tests with ``SLANT_TEST_LABEL_STUDIO_HOME=/tmp/x`` to reuse it (it is then not stopped).
Use it from any test: ``def test_x(label_studio): conn = label_studio.connection()``;
``label_studio.create_user(email, password)`` signs up another annotator and returns its token.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabelStudioTestServer:
    """What tests need of the session's server."""

    server: object  # annotate.labelstudio.server.LocalServer
    home: Path  # a SLANT_HOME whose labelstudio/ is this server's state dir

    @property
    def url(self) -> str:
        return self.server.url

    def token(self) -> str:
        return self.server.token()

    @property
    def admin_email(self) -> str:
        return self.server.admin_email

    def password(self) -> str:
        return self.server.password()

    def connection(self):
        from annotate.labelstudio.connection import connect

        return connect(self.url, self.token())

    def create_user(self, email: str, password: str) -> tuple[int, str]:
        """Sign a new annotator up through the organization's invite link; ``(user id, API token)``.

        This is how a real annotator joins an open-source Label Studio server.
        """
        import httpx

        admin = {"Authorization": f"Token {self.token()}"}
        invite = httpx.get(f"{self.url}/api/invite", headers=admin).json()["invite_url"]
        with httpx.Client(base_url=self.url) as browser:
            browser.get(invite).raise_for_status()
            response = browser.post(invite, data={"email": email, "password": password,
                                                  "csrfmiddlewaretoken": browser.cookies.get("csrftoken"),
                                                  "allow_newsletters": "false"},
                                    headers={"Referer": f"{self.url}{invite}"})
            assert response.status_code == 302, f"signup of {email} failed: HTTP {response.status_code}"
            me = browser.get("/api/current-user/whoami").json()
            token = browser.get("/api/current-user/token").json()["token"]
        return me["id"], token


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory) -> LabelStudioTestServer:
    """A real Label Studio 1.23.2 on 127.0.0.1 for the whole session, stopped by pid at the end."""
    from annotate.labelstudio.server import LocalServer, default_venv

    reuse = os.environ.get("SLANT_TEST_LABEL_STUDIO_HOME")
    if reuse:  # developer loop: an already running server started with SLANT_HOME=<that dir>
        server = LocalServer(state_dir=Path(reuse) / "labelstudio")
        assert server.status().healthy, f"SLANT_TEST_LABEL_STUDIO_HOME={reuse}: no healthy server there"
        yield LabelStudioTestServer(server=server, home=Path(reuse))
        return
    home = tmp_path_factory.mktemp("slant-home")
    server = LocalServer(state_dir=home / "labelstudio", port=free_port(), venv=default_venv())
    server.start(timeout=600)
    try:
        yield LabelStudioTestServer(server=server, home=home)
    finally:
        from annotate.labelstudio.server import _pid_alive

        pid = server.status().pid
        assert server.stop(), "the session's Label Studio server was not running at teardown"
        assert pid is not None and not _pid_alive(pid)


@pytest.fixture
def project_title(request) -> str:
    """A unique project title per test (Label Studio needs at least 3 characters)."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[5:30].strip("-")  # titles: 3-50 chars
    return f"{name}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
