"""The main job: ``slant run`` (seeds -> Label Studio -> gold labels -> model -> report)."""

from models.cli.app import app  # noqa: F401
