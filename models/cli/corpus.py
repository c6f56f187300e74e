"""Corpus commands: ``slant ingest``."""
