"""The hand-marked page set: pages with their noise, each line marked article or boilerplate.

A page file (``tests/data/written_pages/*.tsv``) has one row per line of the page:

    A<TAB>line text            an article line
    B:family<TAB>line text     a boilerplate line of that family (ticker, paywall, image, ...)
    -                          an empty line of the page

In article text, ``[[surface|actor_id]]`` marks an actor mention (by hand) and ``{{text}}``
marks boilerplate inside an article line (an agency credit after the last sentence). The page
text is the rows' text with the markup stripped; gold mentions and inline boilerplate are
offsets into it. Lines starting with ``#`` are comments. ``manifest.toml`` beside the pages
gives each page's date (file stem = article id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PAGES = ROOT / "tests" / "data" / "written_pages"
_MARKUP = re.compile(r"\[\[([^\[\]|]+)\|([a-z_]+)\]\]|\{\{([^{}]+)\}\}")


@dataclass
class Page:
    article_id: str
    text: str
    labels: list[str]  # per line of text: "A", "B:<family>", or "-" (empty line)
    line_spans: list[tuple[int, int]]  # (start, end) of each line in text
    gold: list[tuple[int, int, str, str]] = field(default_factory=list)  # start, end, surface, actor
    inline_boilerplate: list[tuple[int, int]] = field(default_factory=list)  # inside article lines


def parse_page(path: Path) -> Page:
    labels, spans, parts = [], [], []
    gold: list[tuple[int, int, str, str]] = []
    inline: list[tuple[int, int]] = []
    pos = 0
    for n, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if raw.startswith("#") or raw == "":  # comments; the file's last newline
            continue
        label, _, marked = raw.partition("\t")
        if label == "-":
            marked = ""
        elif label != "A" and not label.startswith("B:"):
            raise ValueError(f"{path}:{n}: label {label!r} is not A, B:<family> or -")
        if label != "A" and _MARKUP.search(marked):
            raise ValueError(f"{path}:{n}: markup on a line that is not article text")
        line, last = [], 0
        for m in _MARKUP.finditer(marked):
            line.append(marked[last:m.start()])
            start = pos + sum(map(len, line))
            surface = m.group(1) if m.group(1) is not None else m.group(3)
            line.append(surface)
            if m.group(1) is not None:
                gold.append((start, start + len(surface), surface, m.group(2)))
            else:
                inline.append((start, start + len(surface)))
            last = m.end()
        line.append(marked[last:])
        text = "".join(line)
        if any(s in text for s in ("[[", "]]", "{{", "}}")):
            raise ValueError(f"{path}:{n}: malformed markup")
        labels.append(label)
        spans.append((pos, pos + len(text)))
        parts.append(text)
        pos += len(text) + 1
    return Page(path.stem, "\n".join(parts) + "\n", labels, spans, gold, inline)


def load_pages(folder: Path = DEFAULT_PAGES) -> list[Page]:
    return [parse_page(p) for p in sorted(folder.glob("*.tsv"))]
