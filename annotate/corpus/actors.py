"""The actor registry (``actors.toml``) and the mention detector built on it.

Mentions are found with spaCy's ``PhraseMatcher`` on a blank English pipeline (no model):
names match case-insensitively (``attr="LOWER"``) except the ``cased`` ones, and overlapping
matches are resolved longest-first with ``spacy.util.filter_spans``.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from annotate.corpus._toml import load_toml
from annotate.corpus.resolution import (
    DATED_PREFIX,
    PERSON_PREFIX,
    SHORT_PREFIX,
    ArticleResolver,
    DatedName,
    Person,
    parse_dated,
    parse_people,
)
from annotate.schema import Mention

if TYPE_CHECKING:
    from spacy.matcher import PhraseMatcher
    from spacy.tokens import Doc

DEFAULT_ACTORS_PATH = Path(__file__).with_name("actors.toml")
NAME_FIELDS = ("aliases", "demonyms", "capitals", "institutions", "leaders", "factions", "cased")
_ACTOR_KEYS = {"name", "kind", *NAME_FIELDS}
_IGNORE_LABEL = "__ignore__"
_TOP_KEYS = {"actors", "ignore", "person", "dated"}
_ENDS_IN_LETTER = re.compile(r"-[A-Z]$")
_LETTER_THEN_PERIOD = re.compile(r"-[A-Z]\.$")
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

    def __init__(self, actors: dict[str, Actor], ignore: tuple[str, ...] = (), source: str = "<memory>",
                 people: tuple[Person, ...] = (), dated: tuple[DatedName, ...] = ()):
        self.actors = dict(actors)
        self.ignore = tuple(ignore)
        self.source = source
        self.people = tuple(people)
        self.dated = tuple(dated)
        self._matchers: tuple[PhraseMatcher, PhraseMatcher] | None = None

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path | None = None, extra: str | Path | None = None) -> ActorRegistry:
        """The registry at ``path`` (default: the bundled one), plus the actors, names, people
        and dated names of ``extra`` added to it (``--actors-extra``)."""
        path = Path(path) if path is not None else DEFAULT_ACTORS_PATH
        data = load_toml(path, error=RegistryError, what="actor registry")
        if extra is None:
            return cls.from_dict(data, source=str(path))
        more = load_toml(extra, error=RegistryError, what="actor registry")
        return cls.from_dict(merge_registry_data(data, more, str(extra)), source=f"{path} + {extra}")

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "<memory>") -> ActorRegistry:
        unknown_top = set(data) - _TOP_KEYS
        if unknown_top:
            raise RegistryError(f"{source}: unknown top-level keys {sorted(unknown_top)}; valid: {sorted(_TOP_KEYS)}")
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
        people = parse_people(data.get("person", []), source, set(actors), RegistryError)
        dated = parse_dated(data.get("dated", []), source, set(actors), RegistryError)
        _check_name_clashes(owner, people, dated, source)
        return cls(actors, tuple(ignore), source, tuple(people), tuple(dated))

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
                exact.add(actor.id, [nlp.make_doc(n) for n in _with_capitals(actor.cased_names)])
        for i, person in enumerate(self.people):
            lower.add(f"{PERSON_PREFIX}{i}", [nlp.make_doc(n) for n in person.names])
            if person.cased:
                exact.add(f"{PERSON_PREFIX}{i}", [nlp.make_doc(n) for n in _with_capitals(person.cased)])
        for short in dict.fromkeys(s for person in self.people for s in person.short):
            exact.add(f"{SHORT_PREFIX}{short}", [nlp.make_doc(n) for n in _with_capitals([short])])
        for i, dated in enumerate(self.dated):
            if dated.names:
                lower.add(f"{DATED_PREFIX}{i}", [nlp.make_doc(n) for n in dated.names])
            if dated.cased:
                exact.add(f"{DATED_PREFIX}{i}", [nlp.make_doc(n) for n in _with_capitals(dated.cased)])
        if self.ignore:
            lower.add(_IGNORE_LABEL, [nlp.make_doc(n) for n in self.ignore])
        return lower, exact

    def resolver(self, day: datetime.date | None = None) -> ArticleResolver:
        """Per-article state for :meth:`find_mentions`: who was named, and the article's date."""
        return ArticleResolver(self.people, self.dated, day)

    def match_spans(self, doc: Doc) -> list[tuple[str, int, int]]:
        """``(label, start_char, end_char)`` of every name in ``doc``, longest first on overlaps;
        labels are actor ids or the person / short-form / dated labels that
        :class:`ArticleResolver` turns into actors. Ignored phrases give nothing."""
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
        # "ISIS-K." at a sentence end was matched through its "K." token: the period is not the name's
        return [(s.label_, s.start_char, s.end_char - (1 if _LETTER_THEN_PERIOD.search(s.text) else 0))
                for s in kept if s.label_ != _IGNORE_LABEL]

    def find_mentions(self, doc: Doc, resolver: ArticleResolver | None = None) -> list[tuple[str, int, int]]:
        """``(actor_id, start_char, end_char)`` in ``doc``, longest match first on overlaps.

        ``resolver`` carries one article's state across its blocks (call in reading order):
        the people named, for their short forms, and the article's date. Without it the text
        is read as an undated article of its own.
        """
        spans = self.match_spans(doc)
        if resolver is None:
            resolver = self.resolver()
            resolver.look_ahead(label for label, _, _ in spans)
        return resolve_spans(spans, resolver)

    def mentions_in(self, text: str) -> list[Mention]:
        """Actor mentions in a piece of text (offsets relative to ``text``)."""
        from annotate.corpus.sentences import sentence_pipeline

        doc = sentence_pipeline().make_doc(text)
        return [Mention(a, text[s:e], s, e) for a, s, e in self.find_mentions(doc)]


def resolve_spans(spans: list[tuple[str, int, int]], resolver: ArticleResolver) -> list[tuple[str, int, int]]:
    """:meth:`ActorRegistry.match_spans` output with labels turned into actors (None dropped)."""
    found = []
    for label, start, end in spans:
        actor = resolver.actor_for(label)
        if actor is not None:
            found.append((actor, start, end))
    return found


def _with_capitals(names) -> list[str]:
    """Names as written and in capitals (datelines and headlines write "ANKARA, TURKEY"), and
    a name ending in "-<letter>" also with a period: spaCy keeps "K." whole ("... ISIS-K.")."""
    variants = [*names, *(n.upper() for n in names)]
    variants += [f"{n}." for n in variants if _ENDS_IN_LETTER.search(n)]
    return list(dict.fromkeys(variants))


def _check_name_clashes(owner: dict[tuple[str, bool], str], people: list[Person], dated: list[DatedName],
                        source: str) -> None:
    """A name that two entries claim would be matched for one of them at random. Dated names
    are checked first, so a person added by an extra file is the entry the error names."""
    shorts = {s.lower() for p in people for s in p.short}
    for i, entry in enumerate(dated, start=1):
        for key in [(n.lower(), False) for n in entry.names] + [(n, True) for n in entry.cased]:
            if key in owner or key[0].lower() in shorts:
                raise RegistryError(f"{source}: dated #{i}: name {key[0]!r} is already a name of {owner.get(key, 'a person')!r}")
            owner[key] = f"dated #{i}"
    for person in people:
        forms = [(n.lower(), False) for n in person.names] + [(n, True) for n in (*person.cased, *person.short)]
        for key in [*forms, *((n.lower(), False) for n in person.short)]:
            if key in owner and owner[key] != f"person {person.name!r}":
                raise RegistryError(f"{source}: person {person.name!r}: name {key[0]!r} is already a name of {owner[key]!r}")
        # short forms may be shared by people ("Sharif"): the one named last in the article wins
        for key in forms[: len(person.names) + len(person.cased)]:
            owner[key] = f"person {person.name!r}"


def merge_registry_data(base: dict, extra: dict, extra_source: str) -> dict:
    """``base`` with ``extra`` added: new actors, more names for existing ones (a given ``name``
    or ``kind`` replaces the base's), more ignored phrases, people and dated names."""
    unknown_top = set(extra) - _TOP_KEYS
    if unknown_top:
        raise RegistryError(f"{extra_source}: unknown top-level keys {sorted(unknown_top)}; valid: {sorted(_TOP_KEYS)}")
    merged = dict(base)
    actors = {actor_id: dict(raw) for actor_id, raw in base.get("actors", {}).items()}
    raw_extra = extra.get("actors", {})
    if not isinstance(raw_extra, dict):
        raise RegistryError(f"{extra_source}: `actors` must be [actors.<id>] tables")
    for actor_id, raw in raw_extra.items():
        if not isinstance(raw, dict):
            raise RegistryError(f"{extra_source}: actor {actor_id!r}: must be a table")
        into = actors.setdefault(actor_id, {})
        for key, value in raw.items():
            if key in NAME_FIELDS and isinstance(value, list):
                into[key] = [*into.get(key, []), *value]
            else:
                into[key] = value
    merged["actors"] = actors
    for key in ("person", "dated"):
        more = extra.get(key, [])
        if not isinstance(more, list):
            raise RegistryError(f"{extra_source}: `{key}` must be an array of tables ([[{key}]])")
        merged[key] = [*base.get(key, []), *more]
    phrases = extra.get("ignore", {}).get("phrases", [])
    if not isinstance(phrases, list):
        raise RegistryError(f"{extra_source}: [ignore] phrases must be a list of strings")
    merged["ignore"] = {"phrases": [*base.get("ignore", {}).get("phrases", []), *phrases]}
    return merged


@lru_cache(maxsize=8)
def _cached_registry(path: str | None, extra: str | None, _stamps: tuple) -> ActorRegistry:
    return ActorRegistry.from_toml(path, extra)


def _stamp(path: str | None) -> tuple[int, int] | None:
    """(mtime, size) of a file, so an edited file is read again; None when absent."""
    try:
        st = Path(path if path is not None else DEFAULT_ACTORS_PATH).stat()
    except OSError:
        return None  # from_toml names the missing file
    return st.st_mtime_ns, st.st_size


def load_registry(path: str | Path | None = None, extra: str | Path | None = None) -> ActorRegistry:
    """The registry at ``path`` (default: the bundled ``actors.toml``), with the file ``extra``
    added to it; cached per pair of files until either changes."""
    path_s = str(path) if path is not None else None
    extra_s = str(extra) if extra is not None else None
    return _cached_registry(path_s, extra_s, (_stamp(path_s), _stamp(extra_s) if extra_s else None))
