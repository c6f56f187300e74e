"""``tomllib`` (Python 3.11+), or its backport ``tomli`` on Python 3.10, and :func:`load_toml`."""

from __future__ import annotations

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


__all__ = ["load_toml", "tomllib"]
