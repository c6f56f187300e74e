"""Slant dimensions, read from a TOML file users extend without code.

A :class:`Dimension` says which stance target it reads and which end of the stance scale
counts as +1. The built-in file (``dimensions.toml`` next to this module) defines
pro-engagement, pro-Pakistan, critical-of-the-Taliban and a ``[per_actor]`` template that
expands into one "net stance toward <actor>" dimension per actor seen in the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from annotate.corpus._toml import tomllib
from annotate.labels import load_label_set

DEFAULT_DIMENSIONS_PATH = Path(__file__).resolve().parent / "dimensions.toml"

_DIMENSION_KEYS = {"title", "target", "direction", "description"}
_REQUIRED_DIMENSION_KEYS = ("title", "target", "direction")
_PER_ACTOR_KEYS = {"enabled", "key", "title", "direction", "description"}
_TOP_LEVEL_KEYS = {"dimensions", "per_actor"}


class DimensionError(ValueError):
    """The dimensions file is missing, malformed, or names something unknown."""


@dataclass(frozen=True)
class Dimension:
    """One slant dimension.

    Attributes:
        key: identifier used in report.json / CSV (e.g. ``"pro_pakistan"``).
        title: display name.
        target: stance target read: an actor id or ``"engagement"``.
        sign: +1 when the favorable end counts as +1, -1 when the critical end does.
        description: one sentence for reviewers.
        per_actor: True for dimensions generated from the ``[per_actor]`` template.
    """

    key: str
    title: str
    target: str
    sign: int
    description: str = ""
    per_actor: bool = False

    def to_dict(self) -> dict:
        return {"title": self.title, "target": self.target, "sign": self.sign,
                "description": self.description, "per_actor": self.per_actor}


def _direction_sign(direction: object, *, where: str) -> int:
    stance = load_label_set().stance
    ends = {stance[-1]: 1, stance[0]: -1}
    if direction not in ends:
        raise DimensionError(f"{where}: direction must be one of {', '.join(ends)} "
                             f"(the ends of the stance scale in label_config.xml), got {direction!r}")
    return ends[direction]  # type: ignore[index]


def _check_keys(table: dict, *, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise DimensionError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                             f"valid keys: {', '.join(sorted(allowed))}")


def _read_toml(path: Path) -> dict:
    if not path.is_file():
        raise DimensionError(f"{path}: dimensions file not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DimensionError(f"{path}: not valid TOML: {exc}") from exc


def load_dimensions(
    path: str | Path | None = None,
    *,
    actors: Iterable[str] = (),
    actor_name: Callable[[str], str] = lambda actor: actor,
) -> list[Dimension]:
    """Read dimensions from ``path`` (the built-in file by default).

    Args:
        path: a TOML file shaped like the built-in ``dimensions.toml``.
        actors: actor ids seen in the inputs; the ``[per_actor]`` template (when enabled)
            adds one dimension per actor, in the order given, skipping keys already defined.
        actor_name: display name of an actor id, used in per-actor titles.

    Returns:
        Named dimensions in file order, then per-actor ones.

    Raises:
        DimensionError: naming the file and table, listing the valid keys or directions.
    """
    path = Path(path) if path is not None else DEFAULT_DIMENSIONS_PATH
    data = _read_toml(path)
    _check_keys(data, allowed=_TOP_LEVEL_KEYS, where=str(path))
    tables = data.get("dimensions", {})
    if not isinstance(tables, dict):
        raise DimensionError(f"{path}: [dimensions] must be a table of [dimensions.<key>] tables")
    dimensions: list[Dimension] = []
    for key, table in tables.items():
        where = f"{path}: [dimensions.{key}]"
        if not isinstance(table, dict):
            raise DimensionError(f"{where}: must be a table with keys {', '.join(sorted(_DIMENSION_KEYS))}")
        _check_keys(table, allowed=_DIMENSION_KEYS, where=where)
        missing = [k for k in _REQUIRED_DIMENSION_KEYS if not table.get(k)]
        if missing:
            raise DimensionError(f"{where}: missing required key(s) {', '.join(missing)}")
        dimensions.append(Dimension(key=key, title=str(table["title"]), target=str(table["target"]),
                                    sign=_direction_sign(table["direction"], where=where),
                                    description=str(table.get("description", ""))))

    template = data.get("per_actor", {"enabled": False})
    where = f"{path}: [per_actor]"
    if not isinstance(template, dict):
        raise DimensionError(f"{where}: must be a table")
    _check_keys(template, allowed=_PER_ACTOR_KEYS, where=where)
    if template.get("enabled", True):
        key_pattern = str(template.get("key", "net_{actor}"))
        if "{actor}" not in key_pattern:
            raise DimensionError(f"{where}: key must contain {{actor}} so each actor gets its own key, "
                                 f"got {key_pattern!r}")
        sign = _direction_sign(template.get("direction", load_label_set().stance[-1]), where=where)
        title = str(template.get("title", "Net stance toward {name}"))
        description = str(template.get("description", ""))
        seen = {d.key for d in dimensions}
        for actor in dict.fromkeys(actors):
            fields = {"actor": actor, "name": actor_name(actor)}
            try:
                key = key_pattern.format(**fields)
                dim_title, dim_description = title.format(**fields), description.format(**fields)
            except (KeyError, IndexError, ValueError) as exc:
                raise DimensionError(f"{where}: bad placeholder in a pattern ({exc}); "
                                     "valid placeholders: {actor}, {name}") from None
            if key in seen:
                continue
            seen.add(key)
            dimensions.append(Dimension(key=key, title=dim_title, target=actor, sign=sign,
                                        description=dim_description, per_actor=True))
    return dimensions
