"""Cleaning quality on the hand-marked page set: boilerplate kept and article text lost.

    python bench/cleaning.py [--pages tests/data/written_pages] [--rules FILE] [--errors]

Each line of each page is marked article or boilerplate (``bench/web_pages.py`` describes the
format). A boilerplate line counts as *kept* when any of its characters survives cleaning; an
article line as *lost* when none survives. *Article text lost* is the share of article
characters (not spaces, not the ``{{inline boilerplate}}``) that cleaning removed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotate.corpus import clean_text, load_rules
from bench.web_pages import DEFAULT_PAGES, Page, load_pages


@dataclass
class CleaningScore:
    boilerplate_lines: int = 0
    boilerplate_kept: int = 0
    article_lines: int = 0
    article_lines_lost: int = 0
    article_chars: int = 0
    article_chars_lost: int = 0
    inline_chars: int = 0
    inline_chars_kept: int = 0

    @property
    def boilerplate_kept_share(self) -> float:
        return self.boilerplate_kept / self.boilerplate_lines if self.boilerplate_lines else 0.0

    @property
    def article_text_lost_share(self) -> float:
        return self.article_chars_lost / self.article_chars if self.article_chars else 0.0


def kept_mask(page: Page, rules) -> bytearray:
    """1 for every character of the page text that cleaning kept."""
    mask = bytearray(len(page.text))
    for block in clean_text(page.text, rules).blocks:
        for offset in block.offsets:
            mask[offset] = 1
    return mask


def score_pages(pages: list[Page], rules, errors: list[str] | None = None,
                families: Counter | None = None) -> CleaningScore:
    """Pool every page's lines; ``errors`` (if given) collects each miss as a readable line,
    ``families`` counts boilerplate kept by family (as ``(family, kept)`` pairs)."""
    score = CleaningScore()
    for page in pages:
        mask = kept_mask(page, rules)
        inline = bytearray(len(page.text))
        for a, b in page.inline_boilerplate:
            inline[a:b] = b"\x01" * (b - a)
            score.inline_chars += sum(1 for i in range(a, b) if not page.text[i].isspace())
            score.inline_chars_kept += sum(1 for i in range(a, b) if mask[i] and not page.text[i].isspace())
        for n, (label, (start, end)) in enumerate(zip(page.labels, page.line_spans), start=1):
            visible = [i for i in range(start, end) if not page.text[i].isspace()]
            if label == "-" or not visible:
                continue
            line = page.text[start:end]
            if label.startswith("B:"):
                kept = any(mask[i] for i in visible)
                score.boilerplate_lines += 1
                score.boilerplate_kept += kept
                if families is not None:
                    families[(label[2:], kept)] += 1
                if kept and errors is not None:
                    errors.append(f"  KEPT {page.article_id}:{n} [{label[2:]}] {line!r}")
                continue
            article = [i for i in visible if not inline[i]]
            lost = [i for i in article if not mask[i]]
            score.article_lines += 1
            score.article_chars += len(article)
            score.article_chars_lost += len(lost)
            score.article_lines_lost += len(lost) == len(article)
            if lost and errors is not None:
                errors.append(f"  LOST {page.article_id}:{n} ({len(lost)}/{len(article)} chars) {line!r}")
    return score


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    ap.add_argument("--rules", type=Path, default=None, help="extra cleaning rules (as slant ingest --rules)")
    ap.add_argument("--errors", action="store_true", help="list every boilerplate line kept and article line cut")
    args = ap.parse_args()

    pages = load_pages(args.pages)
    errors: list[str] = []
    families: Counter = Counter()
    score = score_pages(pages, load_rules(args.rules), errors, families)
    print(f"{len(pages)} pages from {args.pages}")
    print(f"boilerplate lines kept  {score.boilerplate_kept} / {score.boilerplate_lines} = "
          f"{100 * score.boilerplate_kept_share:.1f}%   (goal <= 2%)")
    print(f"article text lost       {score.article_chars_lost} / {score.article_chars} characters = "
          f"{100 * score.article_text_lost_share:.2f}%   (goal <= 1%); "
          f"article lines lost whole {score.article_lines_lost} / {score.article_lines}")
    print(f"inline boilerplate kept {score.inline_chars_kept} / {score.inline_chars} characters")
    print()
    print(f"{'family':<12}{'lines':>7}{'kept':>6}")
    for family in sorted({f for f, _ in families}):
        total = families[(family, True)] + families[(family, False)]
        print(f"{family:<12}{total:>7}{families[(family, True)]:>6}")
    if args.errors:
        print()
        print("\n".join(errors) if errors else "  no errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
