"""Reading articles from ``.txt`` files and ``.jsonl`` / ``.csv`` corpora.

Every problem becomes a :class:`CorpusIssue` naming the file (and line) instead of an exception,
so one bad file or row never stops the rest of a batch.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from annotate.corpus.manifest import MANIFEST_NAMES, ArticleMeta

logger = logging.getLogger(__name__)

#: Files above this size are refused (a single article is a few kB; a .txt of 10 MB is not one).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".csv")
_BINARY_SAMPLE = 8192


@dataclass(frozen=True)
class CorpusIssue:
    """An error (the item was skipped) or a warning (it was read, with a caveat)."""

    path: str
    message: str
    line: int | None = None
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ColumnMap:
    """Which columns / JSON keys of a ``.jsonl`` or ``.csv`` corpus hold the text and metadata."""

    text: str = "text"
    id: str = "id"
    title: str = "title"
    source: str = "source"
    author: str = "author"
    date: str = "date"
    url: str = "url"


@dataclass
class RawArticle:
    article_id: str
    text: str
    path: str
    line: int | None = None
    meta: ArticleMeta | None = None  # metadata carried by a .jsonl / .csv row
    warnings: list[CorpusIssue] = field(default_factory=list)


def _human(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def looks_binary(data: bytes) -> bool:
    """NUL bytes, or many control characters, in the first 8 kB."""
    sample = data[:_BINARY_SAMPLE]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return bool(sample) and controls / len(sample) > 0.05


def decode_text(data: bytes, path: str) -> tuple[str, list[CorpusIssue]]:
    """UTF-8 (with or without BOM); otherwise cp1252 (Windows "ANSI"), with a warning."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        bad = exc.start
    text = data.decode("cp1252", errors="replace")
    warning = CorpusIssue(
        path, f"not valid UTF-8 (first bad byte at offset {bad}); decoded as cp1252 (Windows-1252)", severity="warning"
    )
    return text, [warning]


def _read_bytes(path: Path, max_bytes: int) -> tuple[bytes | None, CorpusIssue | None]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, CorpusIssue(str(path), f"cannot read: {exc.strerror}")
    if size == 0:
        return None, CorpusIssue(str(path), "file is empty")
    if size > max_bytes:
        return None, CorpusIssue(
            str(path),
            f"file is {_human(size)}, above the {_human(max_bytes)} limit; skipped "
            "(raise the limit with --max-bytes, or split the corpus into smaller files)",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, CorpusIssue(str(path), f"cannot read: {exc.strerror}")
    if looks_binary(data):
        return None, CorpusIssue(str(path), "looks like a binary file (NUL or control bytes), not text; skipped")
    return data, None


def _meta_from_row(row: dict, columns: ColumnMap, article_id: str) -> ArticleMeta:
    def get(key: str) -> str:
        value = row.get(key)
        return "" if value is None else str(value).strip()

    return ArticleMeta(
        id=article_id,
        title=get(columns.title),
        source=get(columns.source),
        author=get(columns.author),
        date=get(columns.date),
        url=get(columns.url),
    )


def _row_article(row: dict, path: Path, line: int, columns: ColumnMap, max_bytes: int):
    text = row.get(columns.text)
    if text is None:
        keys = ", ".join(map(str, row)) or "none"
        return CorpusIssue(str(path), f"no {columns.text!r} field (fields: {keys}); use --text-field", line)
    if not isinstance(text, str):
        return CorpusIssue(str(path), f"field {columns.text!r} must be a string, got {type(text).__name__}", line)
    if not text.strip():
        return CorpusIssue(str(path), f"field {columns.text!r} is empty", line)
    if len(text.encode("utf-8")) > max_bytes:
        return CorpusIssue(str(path), f"text is above the {_human(max_bytes)} limit; skipped", line)
    raw_id = row.get(columns.id)
    article_id = str(raw_id).strip() if raw_id not in (None, "") else f"{path.stem}-{line}"
    return RawArticle(article_id, text, str(path), line, _meta_from_row(row, columns, article_id))


def _iter_lines(path: Path, data: bytes) -> Iterator[tuple[int, str] | CorpusIssue]:
    """Numbered lines, each decoded on its own: one line in another encoding (decoded as cp1252,
    with a warning naming it) does not garble the others. Only "\n" ends a line; JSON strings
    may hold U+2028 and similar characters raw."""
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        line, warnings = decode_text(raw, str(path))
        yield from (replace(warning, line=lineno) for warning in warnings)
        yield lineno, line.removesuffix("\r")


def read_txt(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RawArticle | CorpusIssue]:
    data, issue = _read_bytes(path, max_bytes)
    if issue:
        yield issue
        return
    text, warnings = decode_text(data, str(path))
    if not text.strip():
        yield CorpusIssue(str(path), "file has only whitespace")
        return
    yield RawArticle(path.stem, text, str(path), warnings=warnings)


def read_jsonl(path: Path, *, columns: ColumnMap = ColumnMap(), max_bytes: int = DEFAULT_MAX_BYTES):
    """One article per line. The whole-file limit does not apply (a corpus may be large); each
    article's text is limited to ``max_bytes`` instead."""
    data, issue = _read_bytes(path, sys.maxsize)
    if issue:
        yield issue
        return
    for item in _iter_lines(path, data):
        if isinstance(item, CorpusIssue):
            yield item
            continue
        lineno, line = item
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield CorpusIssue(str(path), f"not valid JSON: {exc.msg} (column {exc.colno})", lineno)
            continue
        except ValueError as exc:  # e.g. an integer beyond Python's digit limit
            yield CorpusIssue(str(path), f"not valid JSON: {exc}", lineno)
            continue
        if not isinstance(row, dict):
            yield CorpusIssue(str(path), f"expected a JSON object, got {type(row).__name__}", lineno)
            continue
        yield _row_article(row, path, lineno, columns, max_bytes)


def read_csv(path: Path, *, columns: ColumnMap = ColumnMap(), max_bytes: int = DEFAULT_MAX_BYTES):
    """One article per row, with a header row. Line numbers are the row's first line in the file."""
    data, issue = _read_bytes(path, sys.maxsize)
    if issue:
        yield issue
        return
    text, warnings = decode_text(data, str(path))
    yield from warnings
    # No field limit of csv's own: an over-long article is refused by _row_article (max_bytes),
    # row by row, instead of csv stopping the whole file.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    import io

    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    for header in reader:
        if header:
            break
    if columns.text not in header:
        found = ", ".join(header) or "no header"
        yield CorpusIssue(str(path), f"no {columns.text!r} column (columns: {found}); use --text-field", 1)
        return
    while True:
        row_start = reader.line_num + 1  # blank lines come back as [] and are counted here
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield CorpusIssue(str(path), f"malformed CSV: {exc}", row_start)
            if reader.line_num < row_start:
                break  # the reader cannot move past it
            continue
        if not fields:
            continue
        if len(fields) > len(header):
            yield CorpusIssue(str(path), f"row has {len(fields)} fields, header has {len(header)}", row_start)
            continue
        row = dict(zip(header, fields + [""] * (len(header) - len(fields))))
        yield _row_article(row, path, row_start, columns, max_bytes)


def expand_paths(paths: list[str | Path]) -> tuple[list[Path], list[CorpusIssue]]:
    """Files to read: given files, and the supported files of given folders (sorted, not recursive)."""
    files: list[Path] = []
    issues: list[CorpusIssue] = []
    for p in map(Path, paths):
        if p.is_dir():
            # the folder's manifest.csv describes the articles; it is not one of them
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                           and f.name not in MANIFEST_NAMES)
            skipped = sorted(
                f.name for f in p.iterdir()
                if f.is_file() and f.suffix.lower() not in SUPPORTED_SUFFIXES
                and f.name not in MANIFEST_NAMES and not f.name.startswith(".")
            )
            if skipped:
                issues.append(CorpusIssue(str(p), f"skipped files that are not .txt/.jsonl/.csv: {', '.join(skipped)}", severity="warning"))
            if not found:
                issues.append(CorpusIssue(str(p), "folder has no .txt, .jsonl or .csv files"))
            files.extend(found)
        elif p.is_file():
            if p.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(p)
            else:
                issues.append(CorpusIssue(str(p), f"unsupported file type {p.suffix or '(none)'!r}; expected .txt, .jsonl or .csv"))
        else:
            issues.append(CorpusIssue(str(p), "no such file or folder"))
    return files, issues


def read_file(path: Path, *, columns: ColumnMap = ColumnMap(), max_bytes: int = DEFAULT_MAX_BYTES):
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return read_txt(path, max_bytes=max_bytes)
    if suffix == ".jsonl":
        return read_jsonl(path, columns=columns, max_bytes=max_bytes)
    return read_csv(path, columns=columns, max_bytes=max_bytes)
