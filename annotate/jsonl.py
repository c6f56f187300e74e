"""Reading JSON Lines files: the one line loop every Slant reader uses.

:func:`iter_jsonl` reads a file of one JSON object per line and turns each into a record
with ``parse``; :func:`read_jsonl` is the same as a list. The callers (sentences, annotation
exports, adjudicated labels, predictions, NewsMTSC) differ only in ``parse``, the exception
class and whether a bad line stops the read:

- strict (``errors=None``, the default): the first bad line raises;
- tolerant (``errors=[]``): each bad line is appended to ``errors`` as
  ``"<file>:<line>: <what is wrong>"`` and skipped; the rest is read.

Edge cases, the same for every caller:

- line numbers are 1-based and count every line, blank ones included;
- blank (whitespace-only) lines are skipped, they are neither records nor errors;
- a line that is not valid JSON, or is JSON but not an object (a list, a string, a number,
  ``null``), is a bad line; so is one ``parse`` rejects with ``ValueError``, ``TypeError``
  or ``KeyError`` (its message is kept);
- lines end with ``\\n``; a ``\\r\\n`` ending is fine;
- a file that is missing or cannot be opened, and a line that is not UTF-8, raise in both
  modes (the file as a whole is unusable); the message names the file (and the line).

Never imports anything heavy: :mod:`annotate` stays cheap to import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class JsonlError(ValueError):
    """A JSON Lines file cannot be read, or has a bad line; the message names the file and line."""


def iter_jsonl(
    path: str | Path,
    parse: Callable[[dict[str, Any]], T] | None = None,
    *,
    errors: list[str] | None = None,
    error: Callable[[str], Exception] = JsonlError,
    bad_record: str = "",
    location: str = "{path}:{line}",
) -> Iterator[tuple[int, T]]:
    """Yield ``(line_number, parse(object))`` for each non-blank line of ``path``.

    Args:
        path: the ``.jsonl`` file.
        parse: turns one JSON object (a dict) into a record, raising ``ValueError``,
            ``TypeError`` or ``KeyError`` if it cannot; ``None`` yields the dict itself.
        errors: ``None`` (strict): the first bad line raises ``error``. A list (tolerant):
            each bad line is appended as ``"<file>:<line>: <what is wrong>"`` and skipped.
        error: the exception class (or factory taking the message) to raise.
        bad_record: put before the message of a line ``parse`` rejects, e.g.
            ``"not a sentence record"``; by default the message stands alone.
        location: how a line is named in messages, with ``{path}`` and ``{line}``.

    Raises:
        ``error``: the file is missing or unreadable, a line is not UTF-8, or (strict) a
        line is not a JSON object or not a valid record.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise error(open_problem(path, exc)) from None
    offset = 0  # of the line in the file, in bytes
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                # utf-8-sig on the first line: editors on Windows start files with a byte-order mark
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                where = location.format(path=path, line=number)
                raise error(f"{where}: not UTF-8 text ({exc.reason} at byte {offset + exc.start})") from None
            offset += len(raw)
            if not line.strip():
                continue
            record, problem = _parse_line(line, parse, bad_record)
            if problem is None:
                yield number, record
                continue
            message = f"{location.format(path=path, line=number)}: {problem}"
            if errors is None:
                raise error(message)
            errors.append(message)


def open_problem(path: Path, exc: OSError) -> str:
    """Why ``path`` could not be opened, for a message: ``"<path>: ..."``, naming a dangling
    symbolic link (and its target), a symbolic link loop, or the OS's reason."""
    import errno

    if exc.errno == errno.ELOOP:
        return f"{path}: a loop of symbolic links (it never reaches a file)"
    if isinstance(exc, FileNotFoundError):
        if path.is_symlink():
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            return f"{path}: a symbolic link to {target}, which does not exist"
        return f"{path}: no such file"
    return f"{path}: cannot read: {exc.strerror or exc}"


def _parse_line(line: str, parse: Callable[[dict[str, Any]], T] | None, bad_record: str) -> tuple[Any, str | None]:
    """``(record, None)``, or ``(None, what is wrong)`` for a bad line."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} (column {exc.colno})"
    if not isinstance(data, dict):
        return None, f"expected a JSON object, got {type(data).__name__}"
    if parse is None:
        return data, None
    try:
        return parse(data), None
    except (ValueError, TypeError, KeyError) as exc:
        return None, f"{bad_record}: {exc}" if bad_record else str(exc)


def read_jsonl(path: str | Path, parse: Callable[[dict[str, Any]], T] | None = None, **options: Any) -> list[T]:
    """The records of :func:`iter_jsonl` (same arguments, same edge cases) as a list."""
    return [record for _, record in iter_jsonl(path, parse, **options)]


__all__ = ["JsonlError", "iter_jsonl", "read_jsonl"]
