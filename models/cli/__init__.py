"""The ``slant`` command line: thin wrappers over typed functions in :mod:`annotate` and :mod:`models`.

Each module here registers its commands on :data:`models.cli.app.app` and imports heavy
modules inside the command bodies, so ``slant --help`` stays fast.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

from models.cli.app import app

# Registration side effects: each module adds its commands to ``app``, in workflow order
# (that is the order of `slant --help`, so the imports are not sorted).
# ruff: noqa: I001
from models.cli import corpus as _corpus  # noqa: F401
from models.cli import labelstudio as _labelstudio  # noqa: F401
# (not `from models.cli import annotations`: `from __future__ import annotations` above shadows that name)
import models.cli.annotations as _annotations  # noqa: F401
from models.cli import training as _training  # noqa: F401
from models.cli import report as _report  # noqa: F401
from models.cli import loop as _loop  # noqa: F401
from models.cli import pipeline as _pipeline  # noqa: F401


def main() -> None:
    """Console-script entry point: configure logging once, then run the app."""
    # transformers/datasets' own bars and load reports (sub-second weight loading, the
    # pooler keys a pooled head does not use) would interleave with Slant's progress bars
    # and break `-q`; set these variables to see them again.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    level = os.environ.get("SLANT_LOG_LEVEL", "INFO").upper()
    valid = isinstance(logging.getLevelName(level), int)  # (an unknown name maps to a "Level X" string)
    logging.basicConfig(level=level if valid else "INFO", format="%(levelname)s %(name)s: %(message)s")
    if not valid:
        logging.getLogger(__name__).warning("SLANT_LOG_LEVEL=%r is not a log level (DEBUG, INFO, WARNING, "
                                            "ERROR); using INFO", level)
    # One line per HTTP request drowns the progress bars; warnings still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from annotate.redaction import install_log_redaction, redact

    install_log_redaction()  # every log line, from any library, without tokens or URL passwords
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; what was written before is complete (files are written atomically)\n")
        raise SystemExit(130) from None
    except Exception as exc:  # noqa: BLE001 (a bug or an unforeseen error: one redacted line, not a traceback)
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            sys.stderr.write(redact(traceback.format_exc()))
        sys.stderr.write(f"error: {type(exc).__name__}: {redact(exc)}\n"
                         "(unexpected; SLANT_LOG_LEVEL=DEBUG shows where it happened)\n")
        raise SystemExit(1) from None


__all__ = ["app", "main"]
