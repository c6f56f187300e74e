"""A local Label Studio server: installed in its own venv, started on loopback, stopped by pid.

State lives in one directory (default ``$SLANT_HOME/labelstudio``, ``SLANT_HOME`` defaulting
to ``~/.local/share/slant``)::

    token        the admin's API token (40 hex chars, mode 0600, never printed)
    password     the admin's login password for the web UI (mode 0600)
    server.json  pid, url, data dir and log of the running server
    server.log   the server's output
    data/        Label Studio's SQLite database and media

The server runs from its own virtual environment (``$SLANT_HOME/label-studio-1.23.2``)
because it pins Django and many other packages the toolkit must not share.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from annotate.processes import pid_alive as _pid_alive  # (tests import it from here)

logger = logging.getLogger(__name__)

LABEL_STUDIO_VERSION = "1.23.2"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
ADMIN_EMAIL = "admin@slant.local"
#: First start on an empty data dir runs ~50 s of migrations on 2 cores; leave room.
DEFAULT_START_TIMEOUT = 300.0


class ServerError(RuntimeError):
    """The local Label Studio server could not be installed, started or stopped."""


def slant_home() -> Path:
    """Root of Slant's per-user files: ``$SLANT_HOME`` or ``~/.local/share/slant``."""
    return Path(os.environ.get("SLANT_HOME") or Path.home() / ".local" / "share" / "slant").expanduser()


def default_venv() -> Path:
    """Where Label Studio's own virtual environment lives."""
    return slant_home() / f"label-studio-{LABEL_STUDIO_VERSION}"


def default_state_dir() -> Path:
    """Where the local server keeps its token, pid file, log and data."""
    return slant_home() / "labelstudio"


def ensure_installed(venv: Path | None = None) -> Path:
    """Install ``label-studio==1.23.2`` into its own venv unless present; return the binary.

    Takes about 80 s on a fresh machine (pip resolves Django and friends).
    """
    venv = Path(venv) if venv is not None else default_venv()
    binary = venv / "bin" / "label-studio"
    if binary.is_file():
        return binary
    logger.info("installing label-studio==%s into %s (about 80 s)", LABEL_STUDIO_VERSION, venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    install_log = venv.parent / f"label-studio-{LABEL_STUDIO_VERSION}-install.log"
    with open(install_log, "w", encoding="utf-8") as log:
        steps = [
            [base_python, "-m", "venv", str(venv)],
            [str(venv / "bin" / "pip"), "install", "--quiet", "--upgrade", "pip"],
            [str(venv / "bin" / "pip"), "install", f"label-studio=={LABEL_STUDIO_VERSION}"],
        ]
        for step in steps:
            done = subprocess.run(step, stdout=log, stderr=subprocess.STDOUT, env=_clean_env(), check=False)
            if done.returncode != 0:
                raise ServerError(
                    f"installing Label Studio failed at `{' '.join(step[:3])} ...` (exit {done.returncode});"
                    f" see {install_log}:\n{_tail(install_log)}"
                )
    if not binary.is_file():
        raise ServerError(f"installed label-studio but {binary} is missing; see {install_log}")
    return binary


@dataclass
class ServerStatus:
    """What ``slant labelstudio status`` reports. Never holds the token."""

    running: bool
    healthy: bool
    url: str
    pid: int | None
    data_dir: str
    log: str
    token_file: str
    version: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LocalServer:
    """One local Label Studio server and the directory holding its state.

    ``LocalServer()`` is the user's default server; tests make their own with a temporary
    ``state_dir`` and a free ``port``.
    """

    state_dir: Path = field(default_factory=default_state_dir)
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    venv: Path = field(default_factory=default_venv)
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        self.venv = Path(self.venv)
        recorded = self._read_state()
        if recorded and self.port == DEFAULT_PORT:
            # A server started earlier on another port stays reachable without repeating --port.
            self.port = int(recorded.get("port", self.port))

    # -- files -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_file(self) -> Path:
        return self.state_dir / "token"

    @property
    def password_file(self) -> Path:
        return self.state_dir / "password"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "server.json"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "server.log"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def admin_email(self) -> str:
        return ADMIN_EMAIL

    def token(self) -> str:
        """The admin's API token (read from the 0600 file; never log it).

        Raises :class:`ServerError` without the file, and
        :class:`annotate.redaction.SecretFormatError` when it holds no usable token.
        """
        from annotate.redaction import clean_secret

        try:
            return clean_secret(self.token_file.read_text(encoding="utf-8"), origin=f"the token file {self.token_file}")
        except FileNotFoundError:
            raise ServerError(f"no API token at {self.token_file}: start the server with `slant labelstudio start`") from None

    def password(self) -> str:
        """The admin's web-UI password (read from the 0600 file)."""
        return self.password_file.read_text(encoding="utf-8").strip()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, *, timeout: float = DEFAULT_START_TIMEOUT, install: bool = True) -> ServerStatus:
        """Start the server (installing Label Studio first if needed) and wait until healthy.

        Returns at once if this state dir's server is already running and healthy. Raises
        :class:`ServerError` with the log's tail when the server exits or is not healthy in
        ``timeout`` seconds (the process is then stopped).
        """
        current = self.status()
        recorded_port = int((self._read_state() or {}).get("port", self.port))
        if current.running and recorded_port != self.port:
            raise ServerError(f"Label Studio from {self.state_dir} is already running on port {recorded_port} "
                              f"(pid {current.pid}); stop it first (`slant labelstudio stop`) to use port {self.port}")
        if current.running and current.healthy:
            return current
        if current.running:
            # Running but not answering yet (e.g. started by another shell a moment ago).
            self._wait_healthy(current.pid, timeout)
            return self.status()
        binary = ensure_installed(self.venv) if install else self.venv / "bin" / "label-studio"
        if not binary.is_file():
            raise ServerError(f"Label Studio is not installed at {self.venv}")
        if _port_in_use(self.host, self.port):
            raise ServerError(
                f"port {self.port} on {self.host} is already in use by another program; "
                "choose another with --port"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        token = _secret_file(self.token_file, lambda: secrets.token_hex(20))
        password = _secret_file(self.password_file, lambda: secrets.token_urlsafe(18))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = _clean_env()
        env.update(
            LABEL_STUDIO_BASE_DATA_DIR=str(self.data_dir),
            LABEL_STUDIO_USERNAME=ADMIN_EMAIL,
            LABEL_STUDIO_PASSWORD=password,
            LABEL_STUDIO_USER_TOKEN=token,
            LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
            LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
            # Loopback only: let projects reach an ML backend (`slant serve`) on this machine.
            ML_BLOCK_LOCAL_IP="false",
            SSRF_PROTECTION_ENABLED="false",
        )
        command = [
            str(binary), "start", "--no-browser",
            "--host", self.host, "--port", str(self.port),
            "--internal-host", self.host, "--data-dir", str(self.data_dir),
        ]
        # The child keeps its own copy of the log handle; ours closes once it has started.
        with open(self.log_file, "ab") as log:
            # Own session: Ctrl-C in the user's shell does not kill the server; we stop it by pid.
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self._process = process
        self._write_state({"pid": process.pid, "port": self.port, "host": self.host, "url": self.url,
                           "data_dir": str(self.data_dir), "log": str(self.log_file),
                           "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        logger.info("started Label Studio %s (pid %d) at %s; waiting for /health", LABEL_STUDIO_VERSION, process.pid, self.url)
        try:
            self._wait_healthy(process.pid, timeout)
        except ServerError:
            self.stop()
            raise
        return self.status()

    def stop(self, *, timeout: float = 30.0) -> bool:
        """Stop the server by the pid in ``server.json``; ``False`` if none was running."""
        state = self._read_state()
        pid = state.get("pid") if state else None
        if not pid or not self._is_our_process(pid):
            self.state_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            logger.warning("Label Studio (pid %d) ignored SIGTERM for %.0f s; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 10)
        self.state_file.unlink(missing_ok=True)
        return True

    def is_running(self) -> bool:
        """Whether the pid in ``server.json`` is this state dir's Label Studio (no request sent)."""
        pid = (self._read_state() or {}).get("pid")
        return bool(pid) and self._is_our_process(pid)

    def status(self) -> ServerStatus:
        """Whether this state dir's server runs and answers ``/health`` (no token needed)."""
        state = self._read_state() or {}
        pid = state.get("pid")
        running = bool(pid) and self._is_our_process(pid)
        healthy, version = False, None
        if running:
            healthy = _healthy(self.url)
            if healthy:
                version = self._version()
        return ServerStatus(running=running, healthy=healthy, url=self.url, pid=pid if running else None,
                            data_dir=str(self.data_dir), log=str(self.log_file),
                            token_file=str(self.token_file), version=version)

    # -- internals -------------------------------------------------------------------------
    def _wait_healthy(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(pid):
                raise ServerError(f"Label Studio exited during start-up; last lines of {self.log_file}:\n"
                                  f"{self._log_tail()}")
            if _healthy(self.url):
                return
            time.sleep(0.5)
        raise ServerError(f"Label Studio did not answer {self.url}/health within {timeout:.0f} s; "
                          f"last lines of {self.log_file}:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        from annotate.redaction import redact, remember_secret

        for secret_file in (self.token_file, self.password_file):
            try:
                remember_secret(secret_file.read_text(encoding="utf-8"))
            except OSError:
                continue
        return redact(_tail(self.log_file))

    def _version(self) -> str | None:
        try:
            response = httpx.get(f"{self.url}/api/version", headers={"Authorization": f"Token {self.token()}"}, timeout=5)
            return response.json().get("release") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, ServerError):  # (a bad token file is a ValueError)
            return None

    def _alive(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None  # also reaps our own child
        return _pid_alive(pid)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(pid):
                return True
            time.sleep(0.2)
        return not self._alive(pid)

    def _is_our_process(self, pid: int) -> bool:
        """The pid is alive and is Label Studio serving this state dir (not a recycled pid)."""
        if not self._alive(pid):
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return True  # no /proc (macOS): trust the pid file
        return "label-studio" in cmdline and str(self.data_dir) in cmdline

    def _read_state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.replace(tmp, self.state_file)


def _secret_file(path: Path, make: callable) -> str:
    """Read a secret from ``path`` or create it with mode 0600 (created before written)."""
    if path.is_file():
        os.chmod(path, 0o600)
        return path.read_text(encoding="utf-8").strip()
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def _clean_env() -> dict[str, str]:
    """The environment minus the toolkit venv's and the client's settings."""
    env = dict(os.environ)
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE",
                "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_URL"):
        env.pop(key, None)
    return env


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _port_in_use(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
