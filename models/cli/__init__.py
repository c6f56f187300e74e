"""The ``slant`` command line: thin wrappers over typed functions in :mod:`annotate` and :mod:`models`.

Each module here registers its commands on :data:`models.cli.app.app` and imports heavy
modules inside the command bodies, so ``slant --help`` stays fast.
"""

from __future__ import annotations

import logging
import os

from models.cli.app import app

# Registration side effects: each module adds its commands to ``app``.
from models.cli import corpus as _corpus  # noqa: F401,E402


def main() -> None:
    """Console-script entry point: configure logging once, then run the app."""
    logging.basicConfig(
        level=os.environ.get("SLANT_LOG_LEVEL", "INFO").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    app()


__all__ = ["app", "main"]
