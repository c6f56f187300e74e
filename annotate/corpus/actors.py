"""The actor registry (``actors.toml``) and the mention detector built on it.

Mentions are found with spaCy's ``PhraseMatcher`` on a blank English pipeline (no model):
names match case-insensitively (``attr="LOWER"``) except the ``cased`` ones, and overlapping
matches are resolved longest-first with ``spacy.util.filter_spans``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from annotate.corpus._toml import load_toml
from annotate.schema import Mention

if TYPE_CHECKING:
    from spacy.matcher import PhraseMatcher
    from spacy.tokens import Doc

DEFAULT_ACTORS_PATH = Path(__file__).with_name("actors.toml")
NAME_FIELDS = ("aliases", "demonyms", "capitals", "institutions", "leaders", "factions", "cased")
_ACTOR_KEYS = {"name", "kind", *NAME_FIELDS}
_IGNORE_LABEL = "__ignore__"
#: Hyphen-like dashes between letters (hyphen, non-breaking hyphen, figure dash, en dash):
#: matched as "-", so "Tehreek‐e‐Taliban" and "Al‑Qaeda" find the names written with "-".
_HYPHEN_LIKE = re.compile(r"(?<=\w)[\u2010\u2011\u2012\u2013](?=\w)")


class RegistryError(ValueError):
    """The actor registry file is malformed, or an unknown actor id was asked for."""


class UnknownActorError(RegistryError, KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass(frozen=True)
class Actor:
    id: str
    name: str
    kind: str
    names: tuple[str, ...]  # matched case-insensitively
    cased_names: tuple[str, ...]  # matched exactly as written


class ActorRegistry:
    """Canonical actors and their names, loaded from a TOML file (default: the bundled one)."""

    def __init__(self, actors: dict[str, Actor], ignore: tuple[str, ...] = (), source: str = "<memory>"):
        self.actors = dict(actors)
        self.ignore = tuple(ignore)
        self.source = source
        self._matchers: tuple[PhraseMatcher, PhraseMatcher] | None = None

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path | None = None) -> ActorRegistry:
        path = Path(path) if path is not None else DEFAULT_ACTORS_PATH
        data = load_toml(path, error=RegistryError, what="actor registry")
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "<memory>") -> ActorRegistry:
        unknown_top = set(data) - {"actors", "ignore"}
        if unknown_top:
            raise RegistryError(f"{source}: unknown top-level keys {sorted(unknown_top)}; valid: ['actors', 'ignore']")
        raw_actors = data.get("actors")
        if not isinstance(raw_actors, dict) or not raw_actors:
            raise RegistryError(f"{source}: needs at least one [actors.<id>] table")
        actors: dict[str, Actor] = {}
        owner: dict[tuple[str, bool], str] = {}  # (name key, cased) -> actor id, to catch clashes
        for actor_id, raw in raw_actors.items():
            where = f"{source}: actor {actor_id!r}"
            if not actor_id.replace("_", "").isalnum() or actor_id != actor_id.lower():
                raise RegistryError(f"{where}: ids must be lowercase letters, digits and underscores")
            if not isinstance(raw, dict):
                raise RegistryError(f"{where}: must be a table")
            unknown = set(raw) - _ACTOR_KEYS
            if unknown:
                raise RegistryError(f"{where}: unknown keys {sorted(unknown)}; valid keys: {sorted(_ACTOR_KEYS)}")
            if not isinstance(raw.get("name"), str) or not raw["name"]:
                raise RegistryError(f"{where}: needs a display `name`")
            names: list[str] = []
            cased: list[str] = []
            for fld in NAME_FIELDS:
                values = raw.get(fld, [])
                if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
                    raise RegistryError(f"{where}: `{fld}` must be a list of non-empty strings")
                for value in values:
                    is_cased = fld == "cased"
                    key = (value if is_cased else value.lower(), is_cased)
                    if key in owner and owner[key] != actor_id:
                        raise RegistryError(f"{where}: name {value!r} is already a name of {owner[key]!r}")
                    owner[key] = actor_id
                    (cased if is_cased else names).append(value)
            if not names and not cased:
                raise RegistryError(f"{where}: lists no names")
            actors[actor_id] = Actor(actor_id, raw["name"], str(raw.get("kind", "")), tuple(names), tuple(cased))
        ignore = data.get("ignore", {}).get("phrases", [])
        if not isinstance(ignore, list) or not all(isinstance(v, str) for v in ignore):
            raise RegistryError(f"{source}: [ignore] phrases must be a list of strings")
        return cls(actors, tuple(ignore), source)

    # -- lookups -------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return list(self.actors)

    def get(self, actor_id: str) -> Actor:
        try:
            return self.actors[actor_id]
        except KeyError:
            raise UnknownActorError(
                f"unknown actor {actor_id!r} in {self.source}; valid actor ids: {', '.join(self.actors)}"
            ) from None

    def display_name(self, actor_id: str) -> str:
        """The actor's display name; raises :class:`UnknownActorError` listing valid ids."""
        return self.get(actor_id).name

    def __contains__(self, actor_id: object) -> bool:
        return actor_id in self.actors

    def __len__(self) -> int:
        return len(self.actors)

    # -- matching ------------------------------------------------------------------------
    def _build_matchers(self) -> tuple[PhraseMatcher, PhraseMatcher]:
        from annotate.corpus.sentences import import_spacy, sentence_pipeline

        import_spacy()
        from spacy.matcher import PhraseMatcher

        nlp = sentence_pipeline()
        lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        exact = PhraseMatcher(nlp.vocab, attr="ORTH")
        for actor in self.actors.values():
            if actor.names:
                lower.add(actor.id, [nlp.make_doc(n) for n in actor.names])
            if actor.cased_names:
                # Also in capitals: datelines and headlines write "ANKARA, TURKEY"; the
                # lowercase form ("turkey", "us") is what a cased name must not match.
                variants = dict.fromkeys([*actor.cased_names, *(n.upper() for n in actor.cased_names)])
                exact.add(actor.id, [nlp.make_doc(n) for n in variants])
        if self.ignore:
            lower.add(_IGNORE_LABEL, [nlp.make_doc(n) for n in self.ignore])
        return lower, exact

    def find_mentions(self, doc: Doc) -> list[tuple[str, int, int]]:
        """``(actor_id, start_char, end_char)`` in ``doc``, longest match first on overlaps."""
        from spacy.tokens import Span
        from spacy.util import filter_spans

        if self._matchers is None:
            self._matchers = self._build_matchers()
        normal = _HYPHEN_LIKE.sub("-", doc.text)
        if normal != doc.text:
            # Same length, so the character offsets found here are the original text's.
            from annotate.corpus.sentences import sentence_pipeline

            doc = sentence_pipeline().make_doc(normal)
        spans = []
        for matcher in self._matchers:
            for match_id, start, end in matcher(doc):
                spans.append(Span(doc, start, end, label=match_id))
        kept = sorted(filter_spans(spans), key=lambda s: s.start)
        return [(s.label_, s.start_char, s.end_char) for s in kept if s.label_ != _IGNORE_LABEL]

    def mentions_in(self, text: str) -> list[Mention]:
        """Actor mentions in a piece of text (offsets relative to ``text``)."""
        from annotate.corpus.sentences import sentence_pipeline

        doc = sentence_pipeline().make_doc(text)
        return [Mention(a, text[s:e], s, e) for a, s, e in self.find_mentions(doc)]


@lru_cache(maxsize=8)
def _cached_registry(path: str | None) -> ActorRegistry:
    return ActorRegistry.from_toml(path)


def load_registry(path: str | Path | None = None) -> ActorRegistry:
    """The registry at ``path`` (default: the bundled ``actors.toml``); cached per path."""
    return _cached_registry(str(path) if path is not None else None)
