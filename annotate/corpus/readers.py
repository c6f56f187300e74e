"""Reading articles from ``.txt`` files and ``.jsonl`` / ``.csv`` corpora.

Every problem becomes a :class:`CorpusIssue` naming the file (and line) instead of an exception,
so one bad file or row never stops the rest of a batch.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import sys
from collections.abc import Iterable, Iterator
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


def looks_binary(data: bytes, *, per_row: bool = False) -> bool:
    """NUL bytes, or many control characters, in the first 8 kB.

    With ``per_row`` (a ``.jsonl`` / ``.csv`` corpus) a NUL byte only counts as one more control
    byte: a stray NUL then costs its own row (the readers name it), not the whole file.
    """
    sample = data[:_BINARY_SAMPLE]
    if b"\x00" in sample and not per_row:
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


def _line_list(numbers: list[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, numbers[:limit]))
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def decode_lines(data: bytes, path: str) -> tuple[str, list[CorpusIssue]]:
    """Like :func:`decode_text`, but a file that is not valid UTF-8 is decoded line by line: only
    the lines that are not UTF-8 fall back to cp1252, so one stray byte does not garble every
    other non-ASCII character. One warning names those lines (its ``line`` is the first)."""
    try:
        return data.decode("utf-8-sig"), []  # the usual case, and the same text as before
    except UnicodeDecodeError:
        pass
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    parts: list[str] = []
    bad_lines: list[int] = []
    first_offset = None
    offset = bom
    # 0x0A never occurs inside a UTF-8 sequence or a cp1252 character, so splitting bytes is safe;
    # line numbers count "\n" as the .jsonl reader's do
    raws = data[bom:].split(b"\n")
    for lineno, raw in enumerate(raws, start=1):
        if lineno < len(raws):
            raw += b"\n"
        try:
            parts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            parts.append(raw.decode("cp1252", errors="replace"))
            bad_lines.append(lineno)
            if first_offset is None:
                first_offset = offset + exc.start
        offset += len(raw)
    warning = CorpusIssue(
        path,
        f"not valid UTF-8 on line(s) {_line_list(bad_lines)} (first bad byte at offset {first_offset}); "
        "only those lines decoded as cp1252 (Windows-1252)",
        bad_lines[0],
        severity="warning",
    )
    return "".join(parts), [warning]


# UTF-32 first: its little-endian BOM starts with UTF-16's
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def _from_wide_encoding(data: bytes, path: Path) -> tuple[bytes, list[CorpusIssue]]:
    """A UTF-16/UTF-32 file with a BOM (Notepad's "Unicode") re-encoded as UTF-8, so that the
    binary check and the line-by-line readers see text; other data is returned unchanged."""
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            break
    else:
        return data, []
    try:
        return data.decode(encoding).encode("utf-8"), []
    except UnicodeDecodeError as exc:
        warning = CorpusIssue(
            str(path), f"{encoding.upper()} BOM, but bytes at offset {exc.start} are not valid {encoding.upper()} "
            "(a truncated file?); replaced with U+FFFD", severity="warning",
        )
        return data.decode(encoding, errors="replace").encode("utf-8"), [warning]


def _read_bytes(
    path: Path, max_bytes: int, *, per_row: bool = False
) -> tuple[bytes | None, CorpusIssue | None, list[CorpusIssue]]:
    """The file's bytes (re-encoded as UTF-8 if it had a UTF-16/32 BOM), or a refusal; and warnings."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, CorpusIssue(str(path), f"cannot read: {exc.strerror}"), []
    if size == 0:
        return None, CorpusIssue(str(path), "file is empty"), []
    if size > max_bytes:
        return None, CorpusIssue(
            str(path),
            f"file is {_human(size)}, above the {_human(max_bytes)} limit; skipped "
            "(raise the limit with --max-bytes, or split the corpus into smaller files)",
        ), []
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, CorpusIssue(str(path), f"cannot read: {exc.strerror}"), []
    data, warnings = _from_wide_encoding(data, path)
    if looks_binary(data, per_row=per_row):
        return None, CorpusIssue(str(path), "looks like a binary file (NUL or control bytes), not text; skipped"), []
    return data, None, warnings


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
    data, issue, warnings = _read_bytes(path, max_bytes)
    if issue:
        yield issue
        return
    text, decode_warnings = decode_lines(data, str(path))
    if not text.strip():
        yield CorpusIssue(str(path), "file has only whitespace")
        return
    yield RawArticle(path.stem, text, str(path), warnings=warnings + decode_warnings)


def read_jsonl(path: Path, *, columns: ColumnMap = ColumnMap(), max_bytes: int = DEFAULT_MAX_BYTES):
    """One article per line. The whole-file limit does not apply (a corpus may be large); each
    article's text is limited to ``max_bytes`` instead."""
    data, issue, warnings = _read_bytes(path, sys.maxsize, per_row=True)
    if issue:
        yield issue
        return
    yield from warnings
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


class _Lines:
    """The lines of a text as an iterator whose position can be moved back, so csv parsing can
    start again after a broken row."""

    def __init__(self, text: str) -> None:
        self.lines = io.StringIO(text, newline="").readlines()
        self.pos = 0  # index of the next line to hand out

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


def read_csv(path: Path, *, columns: ColumnMap = ColumnMap(), max_bytes: int = DEFAULT_MAX_BYTES):
    """One article per row, with a header row. Line numbers are the row's first line in the file.

    Quotes are parsed strictly: a quoted field must close, and only a delimiter or a line end may
    follow its closing quote. A row that breaks this (an unclosed quote runs to the end of the
    file, or closes on a later row's quote) is an error naming the line where it starts, and
    reading starts again on the next line, so the rows an unclosed quote swallowed are still read.
    """
    data, issue, warnings = _read_bytes(path, sys.maxsize, per_row=True)
    if issue:
        yield issue
        return
    yield from warnings
    text, warnings = decode_lines(data, str(path))
    yield from warnings
    # No field limit of csv's own: an over-long article is refused by _row_article (max_bytes),
    # row by row, instead of csv stopping the whole file.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    lines = _Lines(text)
    # strict: the lenient default reads an unclosed quote to the end of the file without a word
    reader = csv.reader(lines, strict=True)
    header: list[str] = []
    while not header and lines.pos < len(lines.lines):
        header_start = lines.pos + 1
        try:
            header = next(reader)
        except csv.Error as exc:
            yield CorpusIssue(str(path), f"malformed CSV header: {exc}", header_start)
            return
    if columns.text not in header:
        found = ", ".join(header) or "no header"
        yield CorpusIssue(str(path), f"no {columns.text!r} column (columns: {found}); use --text-field", 1)
        return
    while True:
        start = lines.pos  # blank lines come back as [] and are counted here
        row_start = start + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield _broken_row(path, exc, row_start, lines.pos)
            lines.pos = start + 1  # the lines a broken quote swallowed are read again as rows
            continue
        if not fields:
            continue
        if len(fields) > len(header):
            yield CorpusIssue(str(path), f"row has {len(fields)} fields, header has {len(header)}", row_start)
            continue
        nul = next((name for name, value in zip(header, fields) if "\x00" in value), None)
        if nul is not None:
            yield CorpusIssue(str(path), f"field {nul!r} holds a NUL byte (binary data?); row skipped", row_start)
            continue
        row = dict(zip(header, fields + [""] * (len(header) - len(fields))))
        yield _row_article(row, path, row_start, columns, max_bytes)


def _broken_row(path: Path, exc: csv.Error, row_start: int, last: int) -> CorpusIssue:
    if "unexpected end of data" in str(exc):
        what = "unclosed quote: a quoted field starting on this line runs to the end of the file"
    elif last > row_start:
        what = (f"malformed CSV: {exc} on line {last}; the row starting here spans lines {row_start}-{last}, "
                "probably a quote that is not closed")
    else:
        what = f"malformed CSV: {exc} (text after a closing quote; double a quote inside a quoted field)"
    again = f"; lines {row_start + 1}-{last} read again as rows" if last > row_start else ""
    return CorpusIssue(str(path), f"{what}; row skipped{again}", row_start)


def _is_apple_double(name: str) -> bool:
    # "._x.txt": macOS's resource-fork companion of x.txt (copied to FAT/zip/network drives), not text
    return name.startswith("._")


def expand_paths(
    paths: list[str | Path], *, exclude: Iterable[str | Path] = ()
) -> tuple[list[Path], list[CorpusIssue]]:
    """Files to read: given files, and the supported files of given folders (sorted, not recursive).

    ``exclude`` (compared as resolved paths) is never read: ``slant ingest`` passes its ``--out``
    file, so a second run into the corpus folder does not read its own output as articles.
    """
    excluded = {Path(e).resolve() for e in exclude}
    files: list[Path] = []
    issues: list[CorpusIssue] = []
    for p in map(Path, paths):
        if p.is_dir():
            # the folder's manifest.csv describes the articles; it is not one of them
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                           and f.name not in MANIFEST_NAMES and not _is_apple_double(f.name))
            skipped = sorted(
                f.name for f in p.iterdir()
                if f.is_file() and f.suffix.lower() not in SUPPORTED_SUFFIXES
                and f.name not in MANIFEST_NAMES and not f.name.startswith(".")
            )
            if skipped:
                issues.append(CorpusIssue(str(p), f"skipped files that are not .txt/.jsonl/.csv: {', '.join(skipped)}", severity="warning"))
            own = [f for f in found if f.resolve() in excluded]
            for f in own:
                logger.info("%s: not read, it is this run's output file", f)
            found = [f for f in found if f not in own]
            if not found and not own:
                issues.append(CorpusIssue(str(p), "folder has no .txt, .jsonl or .csv files"))
            files.extend(found)
        elif p.is_file():
            if p.resolve() in excluded:
                logger.info("%s: not read, it is this run's output file", p)
                issues.append(CorpusIssue(str(p), "is the output file of this run; not read as input"))
            elif p.suffix.lower() in SUPPORTED_SUFFIXES:
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
