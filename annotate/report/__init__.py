"""Slant reports: per-article and per-source slant with intervals and evidence.

Public API::

    from annotate.report import make_report, build_report, write_report, ReportOptions
    result = make_report(sentences="work/sentences.jsonl", predictions="work/predictions.jsonl",
                         annotations="work/annotations.jsonl", manifest="seeds/manifest.toml",
                         out_dir="work/report")
    result.paths.html, result.report["articles"]["000_594f207f9f4d21fb"]["dimensions"]["pro_pakistan"]

Modules, one job each: ``dimensions`` (TOML dimensions), ``scoring`` (article scores,
pure), ``aggregate`` (per-source), ``build`` (assembles the report dict), ``charts`` (SVG),
``render_html`` (HTML), ``tables`` (CSV), ``writer`` (atomic files), ``inputs`` (JSONL
readers), ``from_files`` (all of it from paths).
"""

from annotate.report.build import ReportOptions, build_report, labelstudio_task_url
from annotate.report.dimensions import Dimension, DimensionError, load_dimensions
from annotate.report.from_files import ReportResult, make_report
from annotate.report.inputs import ReportInputError
from annotate.report.writer import ReportPaths, write_report

__all__ = [
           "Dimension",
           "DimensionError",
           "ReportInputError",
           "ReportOptions",
           "ReportPaths",
           "ReportResult",
           "build_report",
           "labelstudio_task_url",
           "load_dimensions",
           "make_report",
           "write_report",
]
