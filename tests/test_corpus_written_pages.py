"""The hand-marked page set (written for the purpose): format, provenance and the quality goals."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from annotate.corpus import load_manifest, load_rules

ROOT = Path(__file__).resolve().parent.parent
PAGES = Path(__file__).parent / "data" / "written_pages"


def bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages():
    return bench("web_pages").load_pages(PAGES)


def test_every_page_is_marked_as_written_and_its_manifest_invents_no_source(pages) -> None:
    assert len(pages) >= 12
    manifest = load_manifest(PAGES / "manifest.toml")
    assert set(manifest) == {p.article_id for p in pages}
    for path in sorted(PAGES.glob("*.tsv")):
        assert path.read_text(encoding="utf-8").startswith("# Written for the purpose (not a real page)"), path.name
    for meta in manifest.values():
        assert meta.date and not (meta.title or meta.source or meta.author or meta.url), meta.id
    families = {label[2:] for p in pages for label in p.labels if label.startswith("B:")}
    assert {"ticker", "paywall", "image", "caption", "share", "nav"} <= families


def test_markup_offsets_point_at_the_page_text(pages) -> None:
    for page in pages:
        for start, end, surface, _ in page.gold:
            assert page.text[start:end] == surface
        for (start, end), label in zip(page.line_spans, page.labels):
            assert "\n" not in page.text[start:end] and (label != "-" or start == end)


def test_bad_page_rows_name_the_file_and_line(tmp_path: Path) -> None:
    web_pages = bench("web_pages")
    bad = tmp_path / "bad.tsv"
    bad.write_text("A\tFine [[Pakistan|pakistan]].\nX\tnot a label\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: label 'X'"):
        web_pages.parse_page(bad)
    bad.write_text("B:share\tShare [[Pakistan|pakistan]]\n")
    with pytest.raises(ValueError, match=r"bad.tsv:1: markup on a line that is not article text"):
        web_pages.parse_page(bad)


def test_cleaning_goals_on_the_page_set(pages) -> None:
    score = bench("cleaning").score_pages(pages, load_rules())
    assert score.boilerplate_lines >= 100 and score.article_lines >= 80
    assert score.boilerplate_kept_share <= 0.02
    assert score.article_text_lost_share <= 0.01


def test_switching_the_web_rules_off_keeps_the_noise_the_bench_measures(pages, tmp_path: Path) -> None:
    """The figure is the rules' doing: without them most of the noise is kept."""
    off = tmp_path / "off.toml"
    off.write_text('disable = ["number_dense", "navigation_list", "headline_list", "paywall_prompt", "share_bar", "caption_credit", '
                   '"image_file", "menu_bar", "publication_line"]\n')
    score = bench("cleaning").score_pages(pages, load_rules(off))
    assert score.boilerplate_kept_share > 0.5


def test_mention_goals_on_the_page_set() -> None:
    mentions = bench("mentions")
    gold, pred, _ = mentions.page_mentions(PAGES)
    tp = len(set(gold) & set(pred))
    precision, recall, _ = mentions.prf(tp, len(pred), len(gold))
    assert len(gold) >= 150
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
