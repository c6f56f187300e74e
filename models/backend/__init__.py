"""Slant's Label Studio ML backend: ``slant serve --model DIR``.

- :mod:`models.backend.tasks`: Label Studio task <-> model inputs, predictions, training pairs.
- :mod:`models.backend.service`: the model in use and its background retraining.
- :mod:`models.backend.app`: the HTTP protocol (starlette).
- :mod:`models.backend.auth`: the credentials every route but ``/health`` requires.

:func:`build_service` + :func:`run` are what the CLI calls; :class:`ThreadedBackend` runs
the same server on a thread (tests, notebooks) and stops it on exit.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9090


def resolve_connection(url: str | None = None, api_key: str | None = None) -> Any:
    """Label Studio URL + token for fetching annotations, or ``None`` (then ``/setup``'s are used).

    Same order as every other command (:func:`annotate.labelstudio.connection.connect`):
    explicit arguments, then ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY``, then the local
    server started by ``slant labelstudio start`` (its 0600 token file). The server is not
    contacted here: it may start after the backend.
    """
    from annotate.labelstudio.connection import LabelStudioError, connect
    from models.backend.service import Connection

    try:
        conn = connect(url, api_key, check=False)
    except LabelStudioError as exc:
        log.info("no Label Studio connection configured (%s); using what Label Studio sends to /setup", exc)
        return None
    return Connection(conn.url, conn.token)


def build_service(model_dir: str | Path, *, retrain_every: int = 10, min_pairs: int = 10,
                  save_dir: str | Path | None = None, connection: Any = None, base_data: str | Path | None = None,
                  max_queued_jobs: int = 2, keep_models: int = 3, allowed_hosts: tuple[str, ...] = ()) -> Any:
    """Load the model in ``model_dir`` and wrap it in a :class:`~models.backend.service.BackendService`.

    ``base_data``: a saved Slant stance dataset (``slant dataset`` output); its train split is
    added to every retraining so project labels refine the model instead of replacing its data.
    ``max_queued_jobs``, ``keep_models``, ``allowed_hosts``: see
    :class:`~models.backend.service.RetrainSettings`.
    """
    from models.backend.service import BackendService, RetrainSettings
    from models.registry import load_model

    model = load_model(model_dir)
    base_inputs: list[Any] = []
    base_labels: list[str] = []
    if base_data is not None:
        import datasets

        from models.inputs import from_dataset

        loaded = datasets.load_from_disk(str(base_data))
        split = loaded["train"] if isinstance(loaded, datasets.DatasetDict) else loaded
        base_inputs, base_labels = from_dataset(split)
    settings = RetrainSettings(retrain_every=retrain_every, min_pairs=min_pairs,
                               save_dir=Path(save_dir) if save_dir else None,
                               base_inputs=base_inputs, base_labels=base_labels, max_queued_jobs=max_queued_jobs,
                               keep_models=keep_models, allowed_hosts=tuple(allowed_hosts))
    return BackendService(model, model_dir=model_dir, settings=settings, connection=connection)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an interface to bind) is reachable from this machine only."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_warning(host: str) -> str | None:
    """The warning for binding ``host`` beyond loopback, or ``None`` for loopback."""
    if is_loopback(host):
        return None
    return (f"listening on {host}: other machines can reach this backend. Every route but /health needs its "
            "credentials, but they and the annotations travel as plain HTTP: put a TLS proxy in front, or "
            "keep --host 127.0.0.1")


def run(service: Any, *, credentials: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve until interrupted (blocking); every route but ``/health`` requires ``credentials``
    (:class:`models.backend.auth.Credentials`). Warns when ``host`` is not loopback."""
    import uvicorn

    from models.backend.app import create_app

    warning = exposure_warning(host)
    if warning:
        log.warning("%s", warning)
    uvicorn.run(create_app(service, credentials=credentials), host=host, port=port, log_level="warning")


class ThreadedBackend:
    """Run the backend on a thread: ``with ThreadedBackend(service, port=0) as backend: backend.url``.

    ``port=0`` picks a free port. ``credentials`` default to a random user and password
    (``backend.credentials``; ``backend.auth`` is the ``(user, password)`` pair httpx takes).
    The server is stopped (and the thread joined) on exit.
    """

    def __init__(self, service: Any, *, host: str = DEFAULT_HOST, port: int = 0, credentials: Any = None) -> None:
        import secrets

        import uvicorn

        from models.backend.app import create_app
        from models.backend.auth import Credentials

        self.service = service
        self.credentials = credentials or Credentials("slant-test", secrets.token_urlsafe(18), origin="ThreadedBackend")
        app = create_app(service, credentials=self.credentials)
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="slant-ml-backend", daemon=True)
        self.host = host

    @property
    def auth(self) -> tuple[str, str]:
        return self.credentials.username, self.credentials.password

    @property
    def url(self) -> str:
        sockets = self._server.servers[0].sockets
        return f"http://{self.host}:{sockets[0].getsockname()[1]}"

    def __enter__(self) -> ThreadedBackend:  # noqa: PYI034 (never subclassed)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ML backend did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
