"""Write a report's files: report.json, articles.csv, sources.csv, evidence.csv, report.html.

Everything is rendered in memory first, then the five files are written into a new hidden
folder beside the output folder, which is swapped in for the old one in one rename
(:func:`annotate.atomic.write_folder_atomically`): a failure while rendering or writing (a
full disk) or a kill leaves the previous report whole, and no reader ever sees a folder
that is half one run and half another.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotate.atomic import atomic_write_text, write_folder_atomically
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
    Creates ``out_dir`` if needed; returns the paths written. The whole folder is replaced,
    so ``out_dir`` must be new, empty or an earlier report: anything else in it is a
    ``FileExistsError`` naming it (nothing is deleted).
    """
    directory = Path(out_dir)
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
    if directory.is_dir():
        foreign = sorted(p.name for p in directory.iterdir() if p not in contents)
        if foreign:
            raise FileExistsError(f"{directory}: holds files that are not part of a report ({', '.join(foreign[:10])}); "
                                  "the report folder is replaced as a whole, so choose a new or empty folder")
    elif directory.exists():
        raise FileExistsError(f"{directory}: exists and is not a folder")

    def fill(folder: Path) -> None:
        for path, text in contents.items():
            (folder / path.name).write_text(text, encoding="utf-8", newline="")

    write_folder_atomically(directory, fill)
    return paths


__all__ = ["ReportPaths", "atomic_write_text", "write_report"]
