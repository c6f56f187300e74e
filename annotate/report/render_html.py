"""Render a report dict (see :mod:`annotate.report.build`) as ONE self-contained HTML file.

No network and no JavaScript: CSS is inline, charts are inline SVG drawn by
:mod:`annotate.report.charts`, and a Content-Security-Policy forbids scripts and remote
loads. Every string from the inputs goes through Jinja's autoescape (and
``markupsafe.escape`` inside the charts); only http(s) URLs become links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from annotate.report.build import actor_display_name
from annotate.report.charts import (
    BASIS_COLORS,
    Interval,
    Row,
    color_legend,
    diverging_color,
    heatmap,
    interval_chart,
    text_color_on,
)
from annotate.schema import Mention, SentenceRecord

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
UNKNOWN_SOURCE = "(source not given)"


def safe_url(url: str | None) -> str | None:
    """``url`` when it is http(s), else None (so ``javascript:`` and friends never become links)."""
    if not url:
        return None
    try:
        return url if urlsplit(url).scheme in ("http", "https") else None
    except ValueError:
        return None


def highlight_segments(text: str, mentions: Iterable[Mention | Mapping[str, Any]],
                       target: str | None = None) -> list[dict[str, Any]]:
    """Split ``text`` into segments ``{"text", "actor", "target"}`` around actor mentions.

    ``actor`` is None for plain text; ``target`` is True for mentions of ``target``.
    Mentions with offsets outside the text or overlapping an earlier mention are skipped.
    """
    spans = []
    for m in mentions:
        start, end, actor = (m["start"], m["end"], m["actor"]) if isinstance(m, Mapping) else (m.start, m.end, m.actor)
        if 0 <= start < end <= len(text):
            spans.append((start, end, actor))
    segments, cursor = [], 0
    for start, end, actor in sorted(spans):
        if start < cursor:
            continue
        if start > cursor:
            segments.append({"text": text[cursor:start], "actor": None, "target": False})
        segments.append({"text": text[start:end], "actor": actor, "target": actor == target})
        cursor = end
    if cursor < len(text):
        segments.append({"text": text[cursor:], "actor": None, "target": False})
    return segments


def _intervals(entry: Mapping[str, Any], bases: Sequence[str]) -> list[Interval]:
    out = []
    for basis in bases:
        score = entry.get(basis)
        if score is not None:
            out.append(Interval(basis=basis, score=score["score"], low=score["ci_low"], high=score["ci_high"],
                                n=score["n_sentences"]))
    return out


def _evidence_groups(article: Mapping[str, Any], dims: Mapping[str, Any], shown: Sequence[str],
                     bases: Sequence[str], actor_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Evidence grouped by target, each sentence once with every basis' label on it.

    Dimensions on one target (e.g. "Critical of the Taliban" and "Net stance toward Afghan
    Taliban") share their sentences, which are listed under the first such dimension
    (headline dimensions come first). Sentences are in article order.
    """
    groups: dict[str, dict[str, Any]] = {}
    for key in shown:
        target = dims[key]["target"]
        name = actor_names.get(target) or actor_display_name(target)
        group = groups.setdefault(target, {"target": target, "name": name, "dimensions": [], "sentences": {}})
        group["dimensions"].append(dims[key]["title"])
        for basis in bases:
            score = article["dimensions"][key].get(basis)
            for ev in (score or {}).get("evidence", []):
                sentence = group["sentences"].setdefault(ev["sentence_id"], {
                    "sentence_id": ev["sentence_id"], "index": ev["index"], "labels": [],
                    "segments": highlight_segments(ev["text"], ev["mentions"], ev["target"])})
                if not any(label["basis"] == basis for label in sentence["labels"]):
                    sentence["labels"].append({**ev, "dimension": key, "basis": basis})
    out = []
    for group in groups.values():
        sentences = sorted(group.pop("sentences").values(),
                           key=lambda s: (s["index"] if s["index"] is not None else 1 << 30, s["sentence_id"]))
        for sentence in sentences:
            sentence["bases"] = "-".join(label["basis"] for label in sentence["labels"])
        if sentences:
            out.append({**group, "items": sentences})
    return out


def _label_colors(labels: Sequence[str]) -> dict[str, str]:
    """Badge color per stance label: the critical end red, the favorable end blue, the middle grey."""
    last = max(len(labels) - 1, 1)
    return {label: ("#868e96" if 2 * i == last else diverging_color(2 * i / last - 1))
            for i, label in enumerate(labels)}


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["signed"] = lambda x, digits=2: "–" if x is None else f"{x:+.{digits}f}"
    env.filters["pct"] = lambda x: "–" if x is None else f"{100 * x:.0f}%"
    env.filters["score_color"] = diverging_color
    env.filters["score_text_color"] = text_color_on
    env.filters["source_name"] = lambda s: s or UNKNOWN_SOURCE
    env.filters["safe_url"] = safe_url
    return env


def render_html(report: Mapping[str, Any], *, sentences: Iterable[SentenceRecord] = ()) -> str:
    """The HTML page for ``report``; with ``sentences``, each article also shows its full text."""
    bases = list(report["bases"])
    dims = report["dimensions"]
    headline = [k for k, d in dims.items() if not d["per_actor"]]
    actor_dims = {d["target"]: k for k, d in dims.items() if d["per_actor"]}
    actors = [a for a in report["actors"] if a in actor_dims]
    actor_names = {a: report["actors"][a]["name"] for a in report["actors"]}
    article_ids = list(report["articles"])
    anchors = {a: f"article-{i}" for i, a in enumerate(article_ids)}

    def article_label(article_id: str) -> str:
        title = report["articles"][article_id]["title"]
        return f"{title} ({article_id})" if title else article_id

    overview_charts = [
        interval_chart([Row(label=article_label(a), href="#" + anchors[a],
                            intervals=_intervals(report["articles"][a]["dimensions"][k], bases)) for a in article_ids],
                       title=f"{dims[k]['title']}: per article")
        for k in headline]
    source_charts = [
        interval_chart([Row(label=s or UNKNOWN_SOURCE,
                            intervals=_intervals(report["sources"][s]["dimensions"][k], bases))
                        for s in report["sources"]], title=f"{dims[k]['title']}: per source")
        for k in headline]

    def actor_heatmap(scope: str, ids: Sequence[str], basis: str, title: str) -> Any:
        items = report[scope]
        cells = []
        for i in ids:
            row = []
            for actor in actors:
                score = items[i]["dimensions"][actor_dims[actor]].get(basis)
                row.append((score["score"], score["n_sentences"]) if score else (None, 0))
            cells.append(row)
        labels = [article_label(i) for i in ids] if scope == "articles" else [i or UNKNOWN_SOURCE for i in ids]
        hrefs = ["#" + anchors[i] for i in ids] if scope == "articles" else None
        return heatmap(labels, [actor_names[a] for a in actors], cells, title=title, row_hrefs=hrefs)

    heatmaps = []
    if actors:
        for basis in bases if report["sources"] else ():
            heatmaps.append(actor_heatmap("sources", list(report["sources"]), basis,
                                          f"Source × actor net stance ({basis})"))
        for basis in bases:
            heatmaps.append(actor_heatmap("articles", article_ids, basis, f"Article × actor net stance ({basis})"))

    by_article: dict[str, list[SentenceRecord]] = {}
    for s in sentences:
        by_article.setdefault(s.article_id, []).append(s)
    for records in by_article.values():
        records.sort(key=lambda s: s.index)

    article_views = []
    for article_id in article_ids:
        article = report["articles"][article_id]
        shown = [k for k in dims if any(article["dimensions"][k].get(b) and article["dimensions"][k][b]["n_sentences"]
                                        for b in bases)]
        chart = interval_chart([Row(label=dims[k]["title"], intervals=_intervals(article["dimensions"][k], bases))
                                for k in shown], title="Slant by dimension") if shown else None
        evidence = _evidence_groups(article, dims, shown, bases, actor_names)
        text = [{"index": s.index, "segments": highlight_segments(s.text, s.mentions)}
                for s in by_article.get(article_id, [])]
        # untitled articles (the manifest never invents titles) are recognised by their opening words
        lead = by_article[article_id][0].text if by_article.get(article_id) else ""
        lead = lead if len(lead) <= 110 else lead[:109].rstrip() + "…"
        article_views.append({"id": article_id, "anchor": anchors[article_id], "data": article, "shown": shown,
                              "chart": chart, "evidence": evidence, "text": text, "lead": lead})

    return _environment().get_template("report.html.j2").render(
        report=report, bases=bases, dims=dims, headline=headline, actor_names=actor_names, anchors=anchors,
        overview_charts=overview_charts, source_charts=source_charts, heatmaps=heatmaps, legend=color_legend(),
        articles=article_views, basis_colors=BASIS_COLORS, label_colors=_label_colors(report["labels"]),
        unknown_source=UNKNOWN_SOURCE)


__all__ = ["UNKNOWN_SOURCE", "highlight_segments", "render_html", "safe_url"]
