"""One push at a time per (server, project) on this machine: a file lock under ``SLANT_HOME``.

Two ``slant push`` runs into the same project would otherwise both list the project's
tasks, both find a sentence missing, and both import it. The lock is ``flock`` on
``$SLANT_HOME/locks/<hash>.lock``: the kernel releases it when the holder exits, even when
killed, so a crashed push never blocks the next one. Pushes from other machines are not
covered; :mod:`annotate.labelstudio.push` removes what such a race duplicates.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from annotate.labelstudio.connection import LabelStudioError
from annotate.labelstudio.server import slant_home

logger = logging.getLogger(__name__)

#: How long a push waits for another push into the same project before giving up.
DEFAULT_LOCK_TIMEOUT = 3600.0


class ProjectLockTimeout(LabelStudioError):
    """Another push into the same project held the lock for too long."""


def lock_path(url: str, title: str, *, home: Path | None = None) -> Path:
    """The lock file of project ``title`` on the server at ``url``."""
    digest = hashlib.sha256(f"{url.rstrip('/')}\0{title}".encode()).hexdigest()[:24]
    return (home or slant_home()) / "locks" / f"project-{digest}.lock"


@contextlib.contextmanager
def project_lock(url: str, title: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT,
                 poll: float = 0.2) -> Iterator[Path]:
    """Hold the lock of (``url``, ``title``) for the block; wait at most ``timeout`` seconds.

    Raises :class:`ProjectLockTimeout` naming the project and the lock file when another
    process keeps it longer.
    """
    path = lock_path(url, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    logger.info("another push into project %r is running; waiting for it (lock %s)", title, path)
                    waited = True
                if time.monotonic() > deadline:
                    raise ProjectLockTimeout(f"project {title!r}: another push held {path} for more than "
                                             f"{timeout:.0f} s; try again when it has finished") from None
                time.sleep(poll)
        # For a person looking at the folder: which project and process hold it.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {title}\n".encode())
        yield path
    finally:
        os.close(fd)  # closing releases the flock
