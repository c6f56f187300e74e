"""Inline SVG charts for the HTML report, drawn in Python (no JavaScript, no network).

Every piece of text that reaches the SVG goes through :func:`markupsafe.escape`, so
article titles and source names cannot inject markup. Functions return
:class:`markupsafe.Markup` ready to drop into a Jinja template.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Marker colors per basis; chosen to stay distinct for common color-vision deficiencies.
BASIS_COLORS = {"model": "#3b5bdb", "human": "#e8590c"}
_NEGATIVE = (178, 24, 43)   # critical end of the heatmap
_MIDDLE = (247, 247, 247)
_POSITIVE = (33, 102, 172)  # favorable end
_FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif\""


@dataclass(frozen=True)
class Interval:
    """One marker of an interval chart: a score with its interval, or insufficient evidence."""

    basis: str  # "model" or "human"
    score: float | None
    low: float | None
    high: float | None
    n: int


@dataclass(frozen=True)
class Row:
    label: str
    intervals: Sequence[Interval]
    href: str | None = None  # in-page anchor, e.g. "#article-000"


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def short_name(name: str) -> str:
    """A column-friendly name: the acronym of "Tehreek-e-Taliban Pakistan (TTP)", else ``name``."""
    match = re.fullmatch(r".*\(([A-Z][A-Z0-9-]{1,8})\)\s*", name)
    return match.group(1) if match else name


def diverging_color(value: float | None) -> str:
    """Hex color for a score in [-1, 1]: red (critical) through light grey to blue (favorable)."""
    if value is None:
        return "#e9ecef"
    t = max(-1.0, min(1.0, float(value)))
    end = _POSITIVE if t > 0 else _NEGATIVE
    rgb = [round(m + (e - m) * abs(t)) for m, e in zip(_MIDDLE, end)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def text_color_on(value: float | None) -> str:
    """Black or white, whichever reads better on :func:`diverging_color` of ``value``."""
    return "#ffffff" if value is not None and abs(value) > 0.55 else "#212529"


def interval_chart(rows: Sequence[Row], *, title: str, label_width: int = 300, plot_width: int = 400,
                   note_width: int = 190, row_height: int = 30, label_chars: int = 42) -> Markup:
    """A dot-and-interval chart on [-1, 1]: one row per item, one marker per basis.

    Insufficient evidence gets no marker: a grey "basis: too few sentences (n=k)" note in a
    column right of the plot says so instead.
    """
    top, bottom = 34, 30
    height = top + bottom + row_height * max(len(rows), 1)
    width = label_width + plot_width + note_width
    x0 = label_width

    def x(v: float) -> float:
        return x0 + (v + 1) / 2 * plot_width

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart interval-chart" role="img" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" {_FONT} font-size="12">',
             f"<title>{escape(title)}</title>",
             f'<text x="{x0 + plot_width / 2:.1f}" y="14" text-anchor="middle" font-weight="600">'
             f"{escape(title)}</text>"]
    # grid and axis labels
    for tick in (-1, -0.5, 0, 0.5, 1):
        stroke = "#868e96" if tick == 0 else "#dee2e6"
        parts.append(f'<line x1="{_fmt(x(tick))}" y1="{top - 6}" x2="{_fmt(x(tick))}" y2="{height - bottom + 4}" '
                     f'stroke="{stroke}" stroke-width="1"/>')
        parts.append(f'<text x="{_fmt(x(tick))}" y="{height - bottom + 18}" text-anchor="middle" '
                     f'fill="#495057">{tick:+g}</text>')
    parts.append(f'<text x="{_fmt(x(-1))}" y="{top - 10}" fill="#b2182b" font-size="11">◀ against</text>')
    parts.append(f'<text x="{_fmt(x(1))}" y="{top - 10}" fill="#2166ac" font-size="11" text-anchor="end">'
                 f'for ▶</text>')
    for i, row in enumerate(rows):
        cy = top + row_height * i + row_height / 2
        if i % 2 == 0:
            parts.append(f'<rect x="0" y="{cy - row_height / 2:.1f}" width="{width}" height="{row_height}" '
                         f'fill="#f8f9fa"/>')
        label = escape(_truncate(row.label, label_chars))
        text = (f'<text x="{label_width - 10}" y="{cy + 4:.1f}" text-anchor="end" fill="#212529">'
                f"<title>{escape(row.label)}</title>{label}</text>")
        parts.append(f'<a href="{escape(row.href)}">{text}</a>' if row.href else text)
        n_markers = max(len(row.intervals), 1)
        for j, iv in enumerate(row.intervals):
            dy = (j - (n_markers - 1) / 2) * 11  # offset model and human markers vertically
            y = cy + dy
            color = BASIS_COLORS.get(iv.basis, "#495057")
            if iv.score is None:
                parts.append(f'<text x="{x0 + plot_width + 14}" y="{y + 4:.1f}" fill="#868e96" font-size="10.5" '
                             f'font-style="italic">{escape(iv.basis)}: '
                             f'{"no sentences" if iv.n == 0 else f"too few sentences (n={iv.n})"}</text>')
                continue
            tip = (f"{iv.basis}: {iv.score:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}], n={iv.n}"
                   if iv.low is not None and iv.high is not None else f"{iv.basis}: {iv.score:+.2f}, n={iv.n}")
            parts.append(f'<g class="marker marker-{escape(iv.basis)}"><title>{escape(tip)}</title>')
            if iv.low is not None and iv.high is not None:
                parts.append(f'<line x1="{_fmt(x(iv.low))}" y1="{y:.1f}" x2="{_fmt(x(iv.high))}" y2="{y:.1f}" '
                             f'stroke="{color}" stroke-width="2.5" stroke-linecap="round" opacity="0.8"/>')
            shape = (f'<circle cx="{_fmt(x(iv.score))}" cy="{y:.1f}" r="4.5" fill="{color}" stroke="#fff"/>'
                     if iv.basis != "human" else
                     f'<rect x="{_fmt(x(iv.score) - 4.5)}" y="{y - 4.5:.1f}" width="9" height="9" fill="{color}" '
                     f'stroke="#fff" transform="rotate(45 {_fmt(x(iv.score))} {y:.1f})"/>')
            parts.append(shape + "</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def heatmap(row_labels: Sequence[str], col_labels: Sequence[str],
            cells: Sequence[Sequence[tuple[float | None, int]]], *, title: str,
            row_hrefs: Sequence[str | None] | None = None, cell_width: int = 58, cell_height: int = 30,
            label_width: int = 220, label_chars: int = 32) -> Markup:
    """A rows x columns heatmap of scores in [-1, 1]; ``cells[r][c] = (score or None, n)``.

    Cells without a score (insufficient evidence) are light grey with "n=k"; cells with no
    observation at all are left blank.
    """
    header = 118
    width = label_width + cell_width * len(col_labels) + 90  # room for the last rotated column label
    height = header + cell_height * len(row_labels) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" {_FONT} font-size="12">',
             f"<title>{escape(title)}</title>",
             f'<text x="4" y="14" font-weight="600">{escape(title)}</text>']
    for c, col in enumerate(col_labels):
        cx = label_width + cell_width * c + cell_width / 2
        parts.append(f'<text transform="translate({cx:.1f},{header - 6}) rotate(-40)" fill="#212529">'
                     f"<title>{escape(col)}</title>{escape(_truncate(short_name(col), 18))}</text>")
    for r, row in enumerate(row_labels):
        y = header + cell_height * r
        label = (f'<text x="{label_width - 8}" y="{y + cell_height / 2 + 4:.1f}" text-anchor="end" fill="#212529">'
                 f"<title>{escape(row)}</title>{escape(_truncate(row, label_chars))}</text>")
        href = row_hrefs[r] if row_hrefs else None
        parts.append(f'<a href="{escape(href)}">{label}</a>' if href else label)
        for c, (score, n) in enumerate(cells[r]):
            x = label_width + cell_width * c
            if n == 0:
                parts.append(f'<rect x="{x}" y="{y}" width="{cell_width - 2}" height="{cell_height - 2}" '
                             f'fill="#ffffff" stroke="#f1f3f5"/>')
                continue
            fill = diverging_color(score)
            tip = (f"{row} / {col_labels[c]}: " + (f"{score:+.2f}" if score is not None else "insufficient")
                   + f", n={n}")
            text = f"{score:+.2f}" if score is not None else f"n={n}"
            style = 'font-style="italic" fill="#868e96"' if score is None else f'fill="{text_color_on(score)}"'
            parts.append(f'<g class="cell"><title>{escape(tip)}</title>'
                         f'<rect x="{x}" y="{y}" width="{cell_width - 2}" height="{cell_height - 2}" rx="2" '
                         f'fill="{fill}"/>'
                         f'<text x="{x + (cell_width - 2) / 2:.1f}" y="{y + cell_height / 2 + 3:.1f}" '
                         f'text-anchor="middle" font-size="11" {style}>{text}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def color_legend(*, width: int = 260) -> Markup:
    """A small gradient legend for the heatmap colors (critical -1 ... +1 favorable)."""
    stops = "".join(f'<stop offset="{(v + 1) / 2:.2f}" stop-color="{diverging_color(v)}"/>'
                    for v in (-1, -0.5, 0, 0.5, 1))
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="legend" width="{width}" height="34" '
        f'viewBox="0 0 {width} 34" {_FONT} font-size="11"><defs><linearGradient id="slant-gradient">{stops}'
        f'</linearGradient></defs><rect x="30" y="4" width="{width - 60}" height="12" '
        f'fill="url(#slant-gradient)" stroke="#ced4da"/>'
        f'<text x="30" y="30" fill="#b2182b">−1 against</text>'
        f'<text x="{width / 2:.0f}" y="30" text-anchor="middle" fill="#495057">0</text>'
        f'<text x="{width - 30}" y="30" text-anchor="end" fill="#2166ac">for +1</text></svg>')


__all__ = [
    "BASIS_COLORS",
    "Interval",
    "Row",
    "color_legend",
    "diverging_color",
    "heatmap",
    "interval_chart",
    "text_color_on",
]
