"""Write a report's files: report.json, articles.csv, sources.csv, evidence.csv, report.html.

Everything is rendered in memory first, then each file is written to a temporary file in
the output directory and moved into place with :func:`os.replace`: a failure while
rendering leaves the previous report untouched, and no reader ever sees half a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotate.atomic import atomic_write_text
from annotate.report.render_html import render_html
from annotate.report.tables import (
    ARTICLE_COLUMNS,
    EVIDENCE_COLUMNS,
    SOURCE_COLUMNS,
    article_rows,
    evidence_rows,
    source_rows,
    to_csv,
)
from annotate.schema import SentenceRecord


@dataclass(frozen=True)
class ReportPaths:
    """Where a report's files are."""

    directory: Path
    json: Path
    html: Path
    articles_csv: Path
    sources_csv: Path
    evidence_csv: Path


def write_report(report: Mapping[str, Any], out_dir: str | Path, *,
                 sentences: Iterable[SentenceRecord] = ()) -> ReportPaths:
    """Render ``report`` (from :func:`annotate.report.build.build_report`) into ``out_dir``.

    ``sentences`` adds each article's full text (mentions highlighted) to the HTML.
    Creates ``out_dir`` if needed; returns the paths written.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(directory=directory, json=directory / "report.json", html=directory / "report.html",
                        articles_csv=directory / "articles.csv", sources_csv=directory / "sources.csv",
                        evidence_csv=directory / "evidence.csv")
    contents = {
        # compact: the C encoder is ~5x faster than indent=...; `python -m json.tool` pretty-prints
        paths.json: json.dumps(report, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n",
        paths.articles_csv: to_csv(article_rows(report), ARTICLE_COLUMNS),
        paths.sources_csv: to_csv(source_rows(report), SOURCE_COLUMNS),
        paths.evidence_csv: to_csv(evidence_rows(report), EVIDENCE_COLUMNS),
        paths.html: render_html(report, sentences=sentences),
    }
    for path, text in contents.items():
        atomic_write_text(path, text)
    return paths


__all__ = ["ReportPaths", "atomic_write_text", "write_report"]
