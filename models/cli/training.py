"""Model commands: ``slant train``, ``slant evaluate``, ``slant predict``, ``slant crossval``."""

from models.cli.app import app  # noqa: F401
