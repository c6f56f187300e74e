"""The file-level entry point: read inputs, build the report, write its files.

``slant report`` is a thin wrapper over :func:`make_report`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotate.labels import load_label_set
from annotate.report.build import ReportOptions, build_report
from annotate.report.dimensions import load_dimensions
from annotate.report.error_profile import load_error_profile
from annotate.report.inputs import ReportInputError, load_annotations, load_predictions, load_sentences
from annotate.report.writer import ReportPaths, write_report

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportResult:
    """What :func:`make_report` did: the files, the report dict and the input problems."""

    paths: ReportPaths
    report: dict[str, Any]
    problems: list[str]


def load_manifest_file(path: str | Path) -> dict[str, Any]:
    """The manifest via the corpus side's ``annotate.corpus.load_manifest``."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"{path}: manifest file not found")
    try:
        from annotate.corpus import load_manifest
    except ImportError as exc:
        raise ReportInputError(f"{path}: cannot read the manifest: annotate.corpus.load_manifest is not "
                               f"available ({exc})") from None
    try:
        return dict(load_manifest(path))
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ReportInputError(f"{path}: {exc}") from None


def make_report(
    *,
    sentences: str | Path,
    out_dir: str | Path,
    predictions: str | Path | None = None,
    annotations: str | Path | None = None,
    manifest: str | Path | None = None,
    dimensions: str | Path | None = None,
    options: ReportOptions = ReportOptions(),
    error_profile: str | Path | None = None,
) -> ReportResult:
    """Read the files, score, and write report.json, the CSV tables and report.html to ``out_dir``.

    At least one of ``predictions`` and ``annotations`` is needed. Bad lines are skipped and
    returned as ``problems`` (also recorded in report.json); a missing file or a file
    without a single valid record raises :class:`ReportInputError`.

    ``error_profile``: an ``error_profile.json`` or a model folder holding one; model scores
    are corrected for the errors it records (an unusable file raises
    :class:`annotate.report.error_profile.ErrorProfileError`, naming it, before any scoring).
    """
    if predictions is None and annotations is None:
        raise ReportInputError("nothing to score: give predictions, annotations, or both")
    labels = load_label_set().stance
    problems: list[str] = []
    sentence_records, bad = load_sentences(sentences)
    problems += bad
    prediction_records, annotation_records = [], []
    if predictions is not None:
        prediction_records, bad = load_predictions(predictions, labels=labels)
        problems += bad
    if annotations is not None:
        annotation_records, bad = load_annotations(annotations)
        problems += bad
    empty = [str(path) for path, records in ((predictions, prediction_records), (annotations, annotation_records))
             if path is not None and not records]
    if empty and not prediction_records and not annotation_records:
        raise ReportInputError(f"nothing to score: {' and '.join(empty)} hold(s) no record")
    problems = [f"{path}: holds no record; that basis is left out" for path in empty] + problems
    manifest_data = load_manifest_file(manifest) if manifest is not None else None
    for problem in problems:
        logger.warning("%s", problem)

    if dimensions is not None:
        load_dimensions(dimensions)  # fail early, naming the file, before any scoring
    profile = load_error_profile(error_profile, labels=labels) if error_profile is not None else None
    inputs = {"sentences": str(sentences), "predictions": str(predictions) if predictions else None,
              "annotations": str(annotations) if annotations else None,
              "manifest": str(manifest) if manifest else None,
              "dimensions": str(dimensions) if dimensions else "built-in",
              "error_profile": str(error_profile) if error_profile is not None else None}
    report = build_report(sentences=sentence_records, predictions=prediction_records,
                          annotations=annotation_records, manifest=manifest_data, dimensions=dimensions,
                          options=options, inputs=inputs, problems=problems, error_profile=profile)
    paths = write_report(report, out_dir, sentences=sentence_records)
    return ReportResult(paths=paths, report=report, problems=list(report["problems"]))


__all__ = ["ReportResult", "load_manifest_file", "make_report"]
