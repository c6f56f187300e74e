"""Boilerplate removal that never rewrites the article: rules only mark characters as removed.

The result keeps, for every kept character, its offset in the original text, so sentence and
mention offsets can always be traced back to the file the article came from. The rules are data
(``cleaning_rules.toml``); see that file for the format.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from annotate.corpus._toml import load_toml, toml_tables
from annotate.corpus.line_detectors import DETECTOR_KINDS

DEFAULT_RULES_PATH = Path(__file__).with_name("cleaning_rules.toml")
_ACTIONS = ("remove", "break")
_RULE_KEYS = {"name", "description", "pattern", "ignore_case", "action"}
_DETECTOR_KEYS = {"name", "description", "kind", "params"}


class RulesError(ValueError):
    """A cleaning-rules file is malformed (the message names the file and the rule)."""


@dataclass(frozen=True)
class CleaningRule:
    name: str
    pattern: re.Pattern[str]
    action: str = "remove"  # "remove" | "break"
    description: str = ""


@dataclass(frozen=True)
class LineDetector:
    """A named line-level detector (``line_detectors.DETECTOR_KINDS``) with its parameters."""

    name: str
    kind: str
    params: tuple[tuple[str, object], ...] = ()
    description: str = ""

    def lines_to_remove(self, lines: list[str]) -> list[int]:
        function, _ = DETECTOR_KINDS[self.kind]
        return function(lines, **dict(self.params))


@dataclass(frozen=True)
class CleaningRules:
    """An ordered set of rules, the line detectors, and the repeated-line setting."""

    rules: tuple[CleaningRule, ...]
    dedupe_lines: bool = True
    dedupe_min_words: int = 2
    detectors: tuple[LineDetector, ...] = ()

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rules] + [d.name for d in self.detectors]


@dataclass
class Block:
    """A run of kept text between line breaks (or forced breaks); sentences never cross blocks."""

    text: str
    offsets: list[int]  # offsets[i] = position of text[i] in the original article


@dataclass
class CleanedText:
    original: str
    blocks: list[Block]
    removed: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, rule name)

    @property
    def text(self) -> str:
        """The cleaned text, one block per line (for reading; offsets live in the blocks)."""
        return "\n".join(b.text for b in self.blocks)

    def removed_lines(self) -> dict[str, int]:
        """Lines of the original that cleaning removed whole, by rule, most first.

        A line counts when it had visible text and none of it was kept; it goes to the rule
        that removed most of its characters (on a tie, the one that ran first). Text removed inside a kept line (an inline photo
        credit, a bullet glyph) is not a removed line.
        """
        kept = bytearray(len(self.original))
        for block in self.blocks:
            for offset in block.offsets:
                kept[offset] = 1
        counts: dict[str, int] = {}
        pos = 0
        for line in self.original.split("\n"):
            end = pos + len(line)
            if line.strip() and not any(kept[pos:end]):
                by_rule: dict[str, int] = {}
                for start, stop, rule in self.removed:
                    overlap = min(stop, end) - max(start, pos)
                    if overlap > 0:
                        by_rule[rule] = by_rule.get(rule, 0) + overlap
                if by_rule:
                    rule = max(by_rule, key=lambda r: by_rule[r])
                    counts[rule] = counts.get(rule, 0) + 1
            pos = end + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _named(raw: dict, kind: str, *, where: str, source: str) -> tuple[str, str]:
    """A rule's or detector's ``name`` and how messages name it from then on."""
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise RulesError(f"{where}: needs a non-empty string `name`")
    return name, f"{source}: {kind} {name!r}"


def _parse_detectors(data: dict, source: str) -> list[LineDetector]:
    detectors = []
    for where, raw in toml_tables(data.get("detector", []), "detector", source, keys=_DETECTOR_KEYS, error=RulesError):
        name, where = _named(raw, "detector", where=where, source=source)
        kind = raw.get("kind")
        if kind not in DETECTOR_KINDS:
            raise RulesError(f"{where}: kind {kind!r} is not one of {sorted(DETECTOR_KINDS)}")
        params = raw.get("params", {})
        if not isinstance(params, dict):
            raise RulesError(f"{where}: `params` must be a table")
        types = DETECTOR_KINDS[kind][1]
        for key, value in params.items():
            if key not in types:
                raise RulesError(f"{where}: unknown parameter {key!r} for kind {kind!r}; valid: {sorted(types)}")
            wanted = types[key]
            if isinstance(value, bool) or not isinstance(value, (int, float) if wanted is float else wanted):
                raise RulesError(f"{where}: parameter {key!r} must be {wanted.__name__}, got {value!r}")
        detectors.append(LineDetector(name, kind, tuple(sorted(params.items())), str(raw.get("description", ""))))
    return detectors


def _parse_rules(data: dict, source: str) -> tuple[list[CleaningRule], dict, list[str]]:
    unknown_top = set(data) - {"rule", "detector", "repeated_lines", "disable"}
    if unknown_top:
        raise RulesError(f"{source}: unknown top-level keys {sorted(unknown_top)}; "
                         "valid: ['detector', 'disable', 'repeated_lines', 'rule']")
    rules: list[CleaningRule] = []
    for where, raw in toml_tables(data.get("rule", []), "rule", source, keys=_RULE_KEYS, error=RulesError):
        name, where = _named(raw, "rule", where=where, source=source)
        pattern = raw.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise RulesError(f"{where}: needs a non-empty string `pattern`")
        action = raw.get("action", "remove")
        if action not in _ACTIONS:
            raise RulesError(f"{where}: action {action!r} is not one of {list(_ACTIONS)}")
        flags = re.MULTILINE | (re.IGNORECASE if raw.get("ignore_case", False) else 0)
        try:
            compiled = re.compile(pattern, flags)
        except re.error as exc:
            raise RulesError(f"{where}: invalid regular expression: {exc}") from None
        rules.append(CleaningRule(name, compiled, action, str(raw.get("description", ""))))
    dedupe = data.get("repeated_lines", {})
    disable = data.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(d, str) for d in disable):
        raise RulesError(f"{source}: `disable` must be a list of rule names")
    return rules, dedupe, disable


def _read_toml(path: Path) -> dict:
    return load_toml(path, error=RulesError, what="rules file")


def load_rules(extra: str | Path | None = None, *, defaults: bool = True) -> CleaningRules:
    """The default rules and detectors, extended (or overridden by name, or disabled) by an
    optional user file."""
    rules: dict[str, CleaningRule] = {}
    detectors: dict[str, LineDetector] = {}
    dedupe: dict = {}
    if defaults:
        data = _read_toml(DEFAULT_RULES_PATH)
        base, dedupe, _ = _parse_rules(data, str(DEFAULT_RULES_PATH))
        rules = {r.name: r for r in base}
        detectors = {d.name: d for d in _parse_detectors(data, str(DEFAULT_RULES_PATH))}
    if extra is not None:
        extra = Path(extra)
        data = _read_toml(extra)
        more, more_dedupe, disable = _parse_rules(data, str(extra))
        more_detectors = _parse_detectors(data, str(extra))
        unknown = [d for d in disable if d not in rules and d not in detectors]
        if unknown:
            raise RulesError(f"{extra}: cannot disable unknown rules {unknown}; "
                             f"valid rule names: {sorted([*rules, *detectors])}")
        for name in disable:
            rules.pop(name, None)
            detectors.pop(name, None)
        for rule in more:
            rules[rule.name] = rule
        for detector in more_detectors:
            detectors[detector.name] = detector
        dedupe = {**dedupe, **more_dedupe}
    min_words = dedupe.get("min_words", 2)
    if not isinstance(min_words, int) or min_words < 1:
        raise RulesError(f"repeated_lines.min_words must be a positive integer, got {min_words!r}")
    return CleaningRules(tuple(rules.values()), bool(dedupe.get("enabled", True)), min_words, tuple(detectors.values()))


_WORD = re.compile(r"[^\W_]+")


def _line_key(text: str) -> str:
    return " ".join(w.lower() for w in _WORD.findall(text))


def _drop_repeated_lines(original: str, removed: bytearray, min_words: int, log: list) -> None:
    """Drop lines equal to an earlier line, or contained in a longer line (teasers, captions)."""
    lines = []  # (start, end, key)
    for start, end, kept in _kept_lines(original, removed):
        key = _line_key(kept)
        if key:
            lines.append((start, end, key))
    # Candidate containers through an index of each line's leading word pairs, so the check is
    # not every line against every other (quadratic: 100 s for a 20,000-line file).
    by_pair: dict[tuple[str, ...], set[int]] = {}
    for j, (_, _, other) in enumerate(lines):
        words = other.split(" ")
        for pair in itertools.pairwise(words):
            by_pair.setdefault(pair, set()).add(j)
        if min_words == 1:
            for word in words:
                by_pair.setdefault((word,), set()).add(j)
    seen: set[str] = set()
    for i, (start, end, key) in enumerate(lines):
        words = key.split(" ")
        n_words = len(words)
        repeat = key in seen
        # Containment only for headings (no final punctuation) or long lines, so that a short
        # one-line sentence such as "He said." is never dropped for appearing inside another line.
        raw_line = original[start:end].rstrip()
        # A line ending in ":" introduces a quotation ("He added:"): it is not a heading.
        heading_or_long = not raw_line.endswith((".", "!", "?", "”", '"', ":")) or n_words >= 6
        contained = False
        if n_words >= min_words and heading_or_long:
            candidates = by_pair.get(tuple(words[:2]), set())
            contained = any(len(lines[j][2]) > len(key) and f" {key} " in f" {lines[j][2]} "
                            for j in candidates if j != i)
        seen.add(key)
        if repeat or contained:
            removed[start:end] = b"\x01" * (end - start)
            log.append((start, end, "repeated_line"))


def _kept_lines(original: str, removed: bytearray) -> list[tuple[int, int, str]]:
    """``(start, end, kept text)`` of every line, the removed characters left out."""
    out = []
    pos = 0
    for raw in original.split("\n"):
        end = pos + len(raw)
        kept = "".join(original[a:b] for a, b in (m.span() for m in _KEPT_RUN.finditer(removed, pos, end)))
        out.append((pos, end, kept.strip()))
        pos = end + 1
    return out


def _run_detectors(original: str, removed: bytearray, detectors: tuple[LineDetector, ...], log: list) -> None:
    lines = _kept_lines(original, removed)
    for detector in detectors:
        # Each detector sees what the rules and earlier detectors left, so a line another rule
        # removed never counts as, say, an item of a menu.
        found = detector.lines_to_remove([kept for _, _, kept in lines])
        for i in found:
            start, end, _ = lines[i]
            removed[start:end] = b"\x01" * (end - start)
            log.append((start, end, detector.name))
            lines[i] = (start, end, "")


def clean_text(text: str, rules: CleaningRules | None = None) -> CleanedText:
    """Split ``text`` into blocks of kept text with their original offsets.

    Lines are blocks; "break" rules split blocks further. Runs of whitespace inside a block
    collapse to their first character, and blocks are stripped, so the kept text reads cleanly.
    """
    rules = rules or load_rules()
    n = len(text)
    removed = bytearray(n)
    breaks: set[int] = set()
    log: list[tuple[int, int, str]] = []
    # `$` matches only before "\n": give "\r\n" files' line ends the same chance. Same length,
    # so every offset still points into the original text.
    matched = _CR_BEFORE_LINE_END.sub(" ", text)
    for rule in rules.rules:
        for m in rule.pattern.finditer(matched):
            if rule.action == "break":
                breaks.add(m.end())
                continue
            start, end = m.span("drop") if "drop" in rule.pattern.groupindex else m.span()
            if end > start:
                removed[start:end] = b"\x01" * (end - start)
                log.append((start, end, rule.name))
    if rules.detectors:
        _run_detectors(text, removed, rules.detectors, log)
    if rules.dedupe_lines:
        _drop_repeated_lines(text, removed, rules.dedupe_min_words, log)

    blocks = _build_blocks(text, removed, breaks)
    log.sort(key=lambda r: (r[0], r[1]))  # stable: rules that overlap stay in the order they ran
    return CleanedText(text, blocks, log)


_CR_BEFORE_LINE_END = re.compile(r"\r(?=\n|\Z)")
_LINE_BREAK = re.compile(r"[\n\r\u2028\u2029]")
_KEPT_RUN = re.compile(rb"\x00+")
_WHITESPACE = re.compile(r"\s+")


def _build_blocks(text: str, removed: bytearray, breaks: set[int]) -> list[Block]:
    """Cut the text at line breaks and forced breaks; keep the unremoved characters of each piece."""
    cuts: list[tuple[int, int]] = [(m.start(), m.start() + 1) for m in _LINE_BREAK.finditer(text)]  # (end, next start)
    cuts += [(b, b) for b in breaks]
    cuts.sort()
    blocks: list[Block] = []
    pos = 0
    for end, next_start in [*cuts, (len(text), len(text))]:
        if end > pos:
            block = _kept_block(text, removed, pos, end)
            if block is not None:
                blocks.append(block)
        pos = max(pos, next_start)
    return blocks


def _kept_block(text: str, removed: bytearray, start: int, end: int) -> Block | None:
    chars: list[str] = []
    offsets: list[int] = []
    for run in _KEPT_RUN.finditer(removed, start, end):
        a, b = run.span()
        chars.append(text[a:b])
        offsets.extend(range(a, b))
    joined = "".join(chars)
    # collapse whitespace runs to one space (at the offset of the run's first character) and strip
    out_text: list[str] = []
    out_offsets: list[int] = []
    last = 0
    for ws in _WHITESPACE.finditer(joined):
        a, b = ws.span()
        out_text.append(joined[last:a])
        out_offsets.extend(offsets[last:a])
        if a > 0 and b < len(joined):
            out_text.append(" ")
            out_offsets.append(offsets[a])
        last = b
    out_text.append(joined[last:])
    out_offsets.extend(offsets[last:])
    result = "".join(out_text)
    return Block(result, out_offsets) if result else None
