"""``tomllib`` (Python 3.11+), or its backport ``tomli`` on Python 3.10, and :func:`load_toml`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def load_toml(path: str | Path, *, error: type[Exception], what: str) -> dict:
    """Parse the TOML file at ``path``; ``error`` says which file and what is wrong with it.

    Raises:
        ``error``: the file does not exist ("<what> not found"), is not UTF-8 (naming the
            byte), or is not valid TOML.
    """
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); TOML files must be UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def toml_tables(value: object, key: str, source: str, *, keys: set[str],
                error: type[Exception]) -> Iterator[tuple[str, dict]]:
    """``("<source>: <key> #<n>", table)`` for each table of an ``[[key]]`` array.

    Raises ``error`` naming the file (and the entry) when ``value`` is not an array of tables
    or a table has a key not in ``keys``.
    """
    if not isinstance(value, list):
        raise error(f"{source}: `{key}` must be an array of tables ([[{key}]])")
    for i, raw in enumerate(value, start=1):
        where = f"{source}: {key} #{i}"
        if not isinstance(raw, dict):
            raise error(f"{where}: must be a table")
        unknown = set(raw) - keys
        if unknown:
            raise error(f"{where}: unknown keys {sorted(unknown)}; valid keys: {sorted(keys)}")
        yield where, raw


__all__ = ["load_toml", "toml_tables", "tomllib"]
