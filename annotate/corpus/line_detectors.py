"""Line-level boilerplate detectors: page noise that a regular expression cannot describe well.

A detector looks at whole lines (their kept text, after the regex rules ran) and returns the
indices of the lines that are boilerplate. Detectors are named in ``cleaning_rules.toml``
(``[[detector]]`` tables with a ``kind`` from :data:`DETECTOR_KINDS` and its parameters), so
users switch them off with ``disable = ["name"]`` like any rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

#: A number, a price, a percentage, a time or an ordinal ("107.70", "(1.5%)", "10:15pm", "26th").
_NUMBER = re.compile(r"^[(\[+\-−]?\d[\d.,:/]*(?:%|am|pm|st|nd|rd|th|k|m|bn|cr)?[)\],;.]*$", re.IGNORECASE)
#: Up / down glyphs of a market ticker: they count as numbers.
_TICKER_GLYPH = re.compile(r"^[▲▼△▽↑↓⬆⬇]+$")
_WORD = re.compile(r"[^\W\d_]{2,}")
_DIGIT_RUN = re.compile(r"\d+")
_GLYPHS = re.compile(r"[▲▼△▽↑↓⬆⬇]")
_SENTENCE_END = re.compile(r"[.!?:;\"”’)]\s*$")
_GLUED_CASE = re.compile(r"[a-z][A-Z]")
#: Words that every English sentence (and most headlines) has; a navigation strip has none.
_FUNCTION_WORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "for", "and", "or", "but", "with", "by", "at", "from",
    "as", "is", "are", "was", "were", "be", "has", "have", "had", "said", "says", "will", "would",
    "not", "that", "this", "it", "its", "after", "over", "amid",
})


def number_dense(lines: Sequence[str], *, min_numbers: int = 2, min_share: float = 0.4,
                 max_lowercase_words: int = 2) -> list[int]:
    """Market tickers, price strips and bare date/time lines: mostly numbers, hardly any prose.

    "AIRLINK 107.70 Increased By ▲ 1.59 (1.5%)" goes; "In 2023, 645 people were killed in
    2,100 attacks." stays (a sentence has lowercase words between its numbers).
    """
    out = []
    for i, line in enumerate(lines):
        if len(_DIGIT_RUN.findall(line)) + len(_GLYPHS.findall(line)) < min_numbers:
            continue  # most lines: not enough numbers to look at the words
        tokens = line.split()
        numbers = sum(1 for t in tokens if _NUMBER.match(t) or _TICKER_GLYPH.match(t))
        words = [t for t in tokens if _WORD.search(t) and not _NUMBER.match(t)]
        lowercase = sum(1 for w in words if w[0].islower())
        if (numbers >= min_numbers and numbers / max(1, numbers + len(words)) >= min_share
                and lowercase <= max_lowercase_words):
            out.append(i)
    return out


def _menu_item(line: str, max_words: int) -> bool:
    """A short label without sentence punctuation: "Pakistan", "Latest News", "E-Paper"."""
    words = line.split()
    return (0 < len(words) <= max_words and not _SENTENCE_END.search(line)
            and line[:1] not in "\"“‘'" and _WORD.search(line) is not None)


def _glued_menu(line: str, min_glued: int) -> bool:
    """Menu items saved without separators: "HeadlinesMOST POPULARNews TickerPakistanTop News"."""
    words = {w.lower() for w in _WORD.findall(line)}
    return (len(_GLUED_CASE.findall(line)) >= min_glued and not _SENTENCE_END.search(line)
            and not words & _FUNCTION_WORDS)


def navigation_list(lines: Sequence[str], *, max_words: int = 3, min_run: int = 3,
                    min_glued: int = 3) -> list[int]:
    """Runs of ``min_run`` or more short label lines (a menu, one item per line), and single
    lines of menu items glued together. Empty lines (and lines other rules removed) neither
    count nor break a run, so a menu saved with blank lines between its items still goes."""
    out: list[int] = []
    run: list[int] = []
    for i, line in enumerate([*lines, "end of text."]):
        if not line.strip():
            continue
        if i < len(lines) and _glued_menu(line, min_glued):
            out.append(i)
            continue  # a menu in itself: it neither starts nor breaks a run
        if _menu_item(line, max_words):
            run.append(i)
            continue
        if len(run) >= min_run:
            out.extend(run)
        run = []
    return sorted(out)


_STATEMENT_END = re.compile(r"(?<!\.\.)[.!?][\"”’)]*\s*$")  # "..." / "…" end a teaser, not a sentence


def headline_list(lines: Sequence[str], *, min_run: int = 5, min_words: int = 4, max_words: int = 20) -> list[int]:
    """Lists of other stories' headlines (a sidebar saved with the page, often without a
    heading): runs of ``min_run`` or more lines of ``min_words`` to ``max_words`` words that
    do not end a sentence and start with a capital, quote or digit. Article paragraphs end in
    a full stop, so a run of five is a list, not prose; empty lines neither count nor break it."""
    out: list[int] = []
    run: list[int] = []
    for i, line in enumerate([*lines, "end of text."]):
        if not line.strip():
            continue
        n_words = len(line.split())
        if (min_words <= n_words <= max_words and not _STATEMENT_END.search(line)
                and (line[0].isupper() or line[0].isdigit() or line[0] in "\"“‘'")):
            run.append(i)
            continue
        if len(run) >= min_run:
            out.extend(run)
        run = []
    return out


DetectorFn = Callable[..., list[int]]

#: kind -> (function, parameter name -> type). The TOML ``kind`` must be one of these.
DETECTOR_KINDS: dict[str, tuple[DetectorFn, dict[str, type]]] = {
    "number_dense": (number_dense, {"min_numbers": int, "min_share": float, "max_lowercase_words": int}),
    "navigation_list": (navigation_list, {"max_words": int, "min_run": int, "min_glued": int}),
    "headline_list": (headline_list, {"min_run": int, "min_words": int, "max_words": int}),
}
