"""Mentions whose actor depends on the article: people (and their short forms) and dated names.

- A **person** (``[[person]]`` in ``actors.toml``) has full names, matched anywhere, and short
  forms ("Muttaqi", "Mujahid"), which count only in an article that names the person in full:
  a short form goes to the person last named in full before it ("Sharif" after "Nawaz
  Sharif" is Nawaz), or, in a headline or lead that gives the full name only later, to the
  first person named in full after it. A person acts for an actor only while in office (``office`` periods):
  with the article's date known, a former official is no mention ("Karzai" in 2025); without a
  date the person's ``actor`` is used ("" = never a mention: opposition figures, envoys).
- A **dated name** (``[[dated]]``) means one actor before a switch date and another from it on:
  "Afghan forces" and "Kabul" are the Islamic Republic before 2021-08-15 and the Taliban's
  government after. Without a date, ``undated`` is used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from annotate.corpus._toml import toml_tables

PERSON_PREFIX = "__person__:"
SHORT_PREFIX = "__short__:"
DATED_PREFIX = "__dated__:"
_PERSON_KEYS = {"name", "names", "cased", "short", "actor", "office"}
_DATED_KEYS = {"names", "cased", "switch", "before", "after", "undated"}


@dataclass(frozen=True)
class Office:
    actor: str
    start: dt.date | None  # None = open (before any date we care about)
    end: dt.date | None  # exclusive; None = still in office

    def covers(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day < self.end)


@dataclass(frozen=True)
class Person:
    name: str
    names: tuple[str, ...]  # matched case-insensitively, anywhere
    cased: tuple[str, ...]  # full names matched as written ("Trump", not "trump")
    short: tuple[str, ...]  # matched as written, only after a full name earlier in the article
    actor: str  # when the article's date is unknown; "" = not a mention
    offices: tuple[Office, ...] = ()

    def actor_on(self, day: dt.date | None) -> str:
        if day is None or not self.offices:
            return self.actor
        return next((o.actor for o in self.offices if o.covers(day)), "")


@dataclass(frozen=True)
class DatedName:
    names: tuple[str, ...]
    cased: tuple[str, ...]
    switch: dt.date
    before: str
    after: str
    undated: str

    def actor_on(self, day: dt.date | None) -> str:
        if day is None:
            return self.undated
        return self.before if day < self.switch else self.after


def parse_day(value: object, where: str, error: type[Exception]) -> dt.date | None:
    """An ISO date ("2021-08-15"; a datetime's date part is used); "" or None = open."""
    if value in (None, ""):
        return None
    if not isinstance(value, (str, dt.date)):
        raise error(f"{where}: {value!r} is not an ISO date (YYYY-MM-DD)")
    if isinstance(value, dt.date):  # TOML dates arrive parsed
        return value if not isinstance(value, dt.datetime) else value.date()
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise error(f"{where}: {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _strings(raw: dict, key: str, where: str, error: type[Exception]) -> tuple[str, ...]:
    values = raw.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise error(f"{where}: `{key}` must be a list of non-empty strings")
    return tuple(values)


def _actor_id(value: object, where: str, valid: set[str], error: type[Exception], *, allow_none: bool) -> str:
    if value == "" and allow_none:
        return ""
    if not isinstance(value, str) or value not in valid:
        raise error(f"{where}: actor {value!r} is not a registry actor; valid actor ids: {', '.join(sorted(valid))}")
    return value


def parse_people(raw_people: object, source: str, valid: set[str], error: type[Exception]) -> list[Person]:
    people = []
    for where, raw in toml_tables(raw_people, "person", source, keys=_PERSON_KEYS, error=error):
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise error(f"{where}: needs a `name` (the person's full name)")
        where = f"{source}: person {name!r}"
        names = tuple(dict.fromkeys([name, *_strings(raw, "names", where, error)]))
        actor = _actor_id(raw.get("actor", ""), where, valid, error, allow_none=True)
        offices = []
        raw_offices = raw.get("office", [])
        if not isinstance(raw_offices, list):
            raise error(f"{where}: `office` must be a list of {{actor, from, until}} tables")
        for j, office in enumerate(raw_offices, start=1):
            at = f"{where}: office #{j}"
            if not isinstance(office, dict) or set(office) - {"actor", "from", "until"}:
                raise error(f"{at}: must be a table with keys actor, from, until")
            offices.append(Office(
                _actor_id(office.get("actor"), at, valid, error, allow_none=False),
                parse_day(office.get("from"), f"{at} `from`", error),
                parse_day(office.get("until"), f"{at} `until`", error),
            ))
        people.append(Person(name, names, _strings(raw, "cased", where, error), _strings(raw, "short", where, error),
                             actor, tuple(offices)))
    return people


def parse_dated(raw_dated: object, source: str, valid: set[str], error: type[Exception]) -> list[DatedName]:
    out = []
    for where, raw in toml_tables(raw_dated, "dated", source, keys=_DATED_KEYS, error=error):
        names, cased = _strings(raw, "names", where, error), _strings(raw, "cased", where, error)
        if not names and not cased:
            raise error(f"{where}: lists no names")
        switch = parse_day(raw.get("switch"), f"{where} `switch`", error)
        if switch is None:
            raise error(f"{where}: needs a `switch` date")
        before = _actor_id(raw.get("before"), where, valid, error, allow_none=False)
        after = _actor_id(raw.get("after"), where, valid, error, allow_none=False)
        undated = _actor_id(raw.get("undated", after), where, valid, error, allow_none=False)
        out.append(DatedName(names, cased, switch, before, after, undated))
    return out


@dataclass
class ArticleResolver:
    """Turns the matcher's labels into actor ids for one article, in reading order."""

    people: tuple[Person, ...] = ()
    dated: tuple[DatedName, ...] = ()
    day: dt.date | None = None
    _named: dict[str, Person] = field(default_factory=dict)  # short form -> person named last
    _ahead: dict[str, Person] = field(default_factory=dict)  # short form -> person named first

    def look_ahead(self, labels) -> None:
        """Note the first person named in full for each short form, from all of the article's
        match labels (in order), so a headline's "Muttaqi" finds the full name further down."""
        for label in labels:
            if label.startswith(PERSON_PREFIX):
                person = self.people[int(label[len(PERSON_PREFIX):])]
                for short in person.short:
                    self._ahead.setdefault(short, person)

    def actor_for(self, label: str) -> str | None:
        """The actor a match stands for, or None (no mention). Call in text order."""
        if label.startswith(PERSON_PREFIX):
            person = self.people[int(label[len(PERSON_PREFIX):])]
            for short in person.short:
                self._named[short] = person
            return person.actor_on(self.day) or None
        if label.startswith(SHORT_PREFIX):
            short = label[len(SHORT_PREFIX):]
            person = self._named.get(short) or self._ahead.get(short)
            return (person.actor_on(self.day) or None) if person else None
        if label.startswith(DATED_PREFIX):
            return self.dated[int(label[len(DATED_PREFIX):])].actor_on(self.day)
        return label
