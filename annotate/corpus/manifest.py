"""Per-article metadata (``manifest.toml`` or ``manifest.csv``): id, title, source, author, date, url.

Fields the article text does not tell are left empty: metadata is never invented.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from pathlib import Path

from annotate.corpus._toml import load_toml

MANIFEST_NAMES = ("manifest.toml", "manifest.csv")


class ManifestError(ValueError):
    """A manifest file is malformed (the message names the file and the entry)."""


@dataclass(frozen=True)
class ArticleMeta:
    id: str
    title: str = ""
    source: str = ""  # outlet; per-source reports group by it ("" = unknown)
    author: str = ""
    date: str = ""  # ISO 8601 when known
    url: str = ""
    notes: str = ""  # provenance remarks, e.g. where a field came from


_FIELDS = [f.name for f in fields(ArticleMeta)]


def _meta(entry: dict, where: str) -> ArticleMeta:
    unknown = set(entry) - set(_FIELDS)
    if unknown:
        raise ManifestError(f"{where}: unknown fields {sorted(unknown)}; valid fields: {_FIELDS}")
    if not isinstance(entry.get("id"), str) or not entry["id"].strip():
        raise ManifestError(f"{where}: needs a non-empty `id`")
    for key, value in entry.items():
        if not isinstance(value, str):
            raise ManifestError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return ArticleMeta(**{k: v.strip() for k, v in entry.items()})


def load_manifest(path: str | Path) -> dict[str, ArticleMeta]:
    """Article id -> metadata. TOML files hold ``[[article]]`` tables; CSV files have a header row."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    entries: list[tuple[dict, str]] = []
    if path.suffix.lower() == ".csv":
        import io

        from annotate.corpus.readers import decode_text

        text, _ = decode_text(path.read_bytes(), str(path))  # Excel saves cp1252: read it as such
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for row in reader:
            if not any((v or "").strip() for k, v in row.items() if k is not None):
                continue  # a row of bare commas, as spreadsheets export trailing empty rows
            entries.append(({k: (v or "") for k, v in row.items() if k is not None}, f"{path}: line {reader.line_num}"))
    else:
        data = load_toml(path, error=ManifestError, what="manifest")
        articles = data.get("article", [])
        if not isinstance(articles, list):
            raise ManifestError(f"{path}: expected [[article]] tables")
        entries = [(a, f"{path}: article #{i}") for i, a in enumerate(articles, start=1)]
    result: dict[str, ArticleMeta] = {}
    for entry, where in entries:
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: must be a table")
        meta = _meta(entry, where)
        if meta.id in result:
            raise ManifestError(f"{where}: duplicate article id {meta.id!r}")
        result[meta.id] = meta
    return result


def find_manifest(folder: Path) -> Path | None:
    """The manifest that sits in a corpus folder, if any."""
    for name in MANIFEST_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None
