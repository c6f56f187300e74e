"""Atomic file writes: every file Slant writes appears whole or not at all.

The text goes to a temporary file in the target's folder, is flushed to disk, and is moved
into place with :func:`os.replace`; on any error the temporary file is removed and an
existing file at ``path`` is left as it was. Files get the permissions a plain ``open``
would give them (``mkstemp`` alone would make them 0600).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, TypeVar

from annotate.processes import pid_alive

T = TypeVar("T")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[IO[str]], T]) -> T:
    """Call ``write(handle)`` on a temporary file, then move it to ``path``; returns what ``write`` returns."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            result = write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(text))


def atomic_write_json(path: str | Path, data: Any, *, indent: int | None = 2) -> None:
    """Write ``data`` as UTF-8 JSON (non-ASCII kept as is) with a final newline, atomically."""
    atomic_write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records (objects with ``to_dict``, or dicts) as JSON Lines atomically; returns the count."""

    def write(handle: IO[str]) -> int:
        count = 0
        for record in records:
            data = record.to_dict() if hasattr(record, "to_dict") else record
            handle.write(json.dumps(data, ensure_ascii=False) + "\n")
            count += 1
        return count

    return atomic_write(path, write)


# -- whole folders ------------------------------------------------------------------------------
#
# A folder of outputs (a report, a dataset) is written complete under a hidden sibling name
# and then exchanged with the old folder in one rename (Linux ``renameat2(RENAME_EXCHANGE)``),
# so a reader sees the old folder or the new one, never a mix. Sibling names carry the
# writer's pid, so a later run can tell leftovers of a killed run from a run in progress.

_NEW, _OLD = "new", "old"
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` atomically; ``False`` where the system cannot (not Linux, old kernel)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    import errno

    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # no exchange on this system or filesystem
        return False
    raise OSError(code, os.strerror(code), str(b))


def _sibling(out: Path, kind: str) -> Path:
    return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.{kind}-{os.getpid()}-"))


def clean_folder_leftovers(out: str | Path) -> list[str]:
    """Tidy what killed writes of folder ``out`` left beside it; one message per thing done.

    - ``.<name>.new-<pid>-*`` of a dead process: an unfinished new folder; deleted.
    - ``.<name>.old-<pid>[-*]`` of a dead process: a previous complete folder moved aside
      (the two-rename fallback, or older Slant versions); put back if ``out`` is missing,
      else deleted.
    - ``.<name>.tmp-*`` (older Slant versions' unfinished folders, no pid): reported only.

    Leftovers of a live process (a write in progress) are left alone.
    """
    import re
    import shutil

    out = Path(out)
    messages: list[str] = []
    if not out.parent.is_dir():
        return messages
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(new|old|tmp)-(\d+)?")
    for entry in sorted(out.parent.iterdir()):
        match = pattern.match(entry.name)
        if not match or not entry.is_dir() or entry.is_symlink():
            continue
        kind, pid = match.group(1), match.group(2)
        if kind == "tmp":
            messages.append(f"{entry}: an unfinished folder left by an interrupted run; not written by this one "
                            f"(delete it when no other run is writing {out.name})")
            continue
        if pid is None or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        if kind == _OLD and not out.exists():
            os.replace(entry, out)
            messages.append(f"{out}: restored the previous complete folder from {entry.name} "
                            f"(a run was killed while replacing it)")
        else:
            shutil.rmtree(entry, ignore_errors=True)
            messages.append(f"{entry}: removed what a killed run left behind")
    return messages


def write_folder_atomically(out: str | Path, fill: Callable[[Path], T]) -> T:
    """Call ``fill(folder)`` on a new hidden sibling of ``out``, then swap it in for ``out``.

    ``out`` afterwards is exactly what ``fill`` wrote: the old folder (if any) is replaced
    as a whole, in one rename, and deleted (a symbolic link ``out`` keeps pointing at the
    new folder, which takes the old one's place). If ``fill`` or a write fails (a full disk), the
    new folder is removed and ``out`` is untouched. Leftovers of killed earlier writes are
    tidied first (:func:`clean_folder_leftovers`, logged as warnings). Callers check that
    ``out`` holds nothing they must not delete.
    """
    import logging
    import shutil

    log = logging.getLogger(__name__)
    out = Path(out)
    if out.is_symlink():  # replace the folder it points to, and keep the link
        out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    for message in clean_folder_leftovers(out):
        log.warning("%s", message)
    new = _sibling(out, _NEW)
    try:
        os.chmod(new, 0o777 & ~_umask())
        result = fill(new)
        for root, _, files in os.walk(new):  # on disk before it becomes the output
            for name in files:
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        if not out.exists() and not out.is_symlink():
            os.rename(new, out)
            return result
        if _exchange(new, out):
            shutil.rmtree(new, ignore_errors=True)  # ``new`` now names the old folder
            return result
        # No atomic exchange here: two renames, with the old folder named so that a run
        # killed in between is repaired by the next one (clean_folder_leftovers puts it back).
        old = Path(f"{new}".replace(f".{out.name}.{_NEW}-", f".{out.name}.{_OLD}-", 1))
        os.rename(out, old)
        try:
            os.rename(new, out)
        except BaseException:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return result
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
