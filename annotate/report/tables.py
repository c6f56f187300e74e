"""Flatten a report dict into CSV tables (one row per scope x dimension, and per evidence)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

_SCORE_FIELDS = ("score", "ci_low", "ci_high", "n_sentences", "n_excluded", "status")
_MODEL_FIELDS = ("correction", "raw_score", "raw_ci_low", "raw_ci_high")  # the model's score before correction
_DIFFERENCE = ("difference", "difference_ci_low", "difference_ci_high", "raw_difference", "raw_difference_ci_low",
               "raw_difference_ci_high", "disagreement")

ARTICLE_COLUMNS = ["article_id", "title", "source", "author", "date", "url", "dimension", "target",
                   *(f"{b}_{f}" for b in ("human", "model") for f in _SCORE_FIELDS),
                   *(f"model_{f}" for f in _MODEL_FIELDS), *_DIFFERENCE]
SOURCE_COLUMNS = ["source", "n_articles", "dimension", "target",
                  *(f"{b}_{f}" for b in ("human", "model") for f in (*_SCORE_FIELDS, "n_articles")),
                  *(f"model_{f}" for f in _MODEL_FIELDS), *_DIFFERENCE]
EVIDENCE_COLUMNS = ["scope", "scope_id", "dimension", "basis", "rank", "article_id", "sentence_id", "index",
                    "target", "label", "probability", "agreement", "n_annotators", "value", "contribution",
                    "task_id", "labelstudio_url", "text"]


def _score_columns(entry: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for basis in ("human", "model"):
        score = entry.get(basis) or {}
        for f in (*fields, *_MODEL_FIELDS) if basis == "model" else fields:
            row[f"{basis}_{f}"] = score.get(f)
    for key in _DIFFERENCE:
        row[key] = entry.get(key)
    return row


def article_rows(report: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per (article, dimension); empty cells where a basis or score is missing."""
    for article_id, article in report["articles"].items():
        for key, entry in article["dimensions"].items():
            yield {"article_id": article_id, **{k: article[k] for k in ("title", "source", "author", "date", "url")},
                   "dimension": key, "target": report["dimensions"][key]["target"],
                   **_score_columns(entry, _SCORE_FIELDS)}


def source_rows(report: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per (source, dimension)."""
    for source, data in report["sources"].items():
        for key, entry in data["dimensions"].items():
            yield {"source": source, "n_articles": data["n_articles"], "dimension": key,
                   "target": report["dimensions"][key]["target"],
                   **_score_columns(entry, (*_SCORE_FIELDS, "n_articles"))}


def evidence_rows(report: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per evidence sentence of every article and source score."""
    for scope, items in (("article", report["articles"]), ("source", report["sources"])):
        for scope_id, item in items.items():
            for key, entry in item["dimensions"].items():
                for basis in ("human", "model"):
                    for ev in (entry.get(basis) or {}).get("evidence", []):
                        yield {"scope": scope, "scope_id": scope_id, "dimension": key, "basis": basis,
                               **{c: ev.get(c) for c in EVIDENCE_COLUMNS[4:]}}


# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a CSV cell: None becomes empty, and text that a spreadsheet would run as a
    formula (it starts with ``= + - @``, tab or carriage return: article text is untrusted)
    gets a leading apostrophe. Numbers are left alone, so ``-0.25`` stays a number; the JSON
    report keeps every text exactly."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: Iterator[dict[str, Any]], columns: list[str]) -> str:
    """CSV text with a header; cells as made by :func:`spreadsheet_safe`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
    return buffer.getvalue()


__all__ = [
    "ARTICLE_COLUMNS",
    "EVIDENCE_COLUMNS",
    "SOURCE_COLUMNS",
    "article_rows",
    "evidence_rows",
    "source_rows",
    "spreadsheet_safe",
    "to_csv",
]
