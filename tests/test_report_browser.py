"""The HTML report in a real headless Chromium (Debian's /usr/bin/chromium via Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_report_fixtures import ARTICLES, PROBABILITIES, make_adjudicated, make_predictions, make_sentences

from annotate.report import ReportOptions, build_report, write_report

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PAYLOAD = "<script>window.__slant_pwned = 1</script>"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture()
def report_html(tmp_path):
    articles = dict(ARTICLES)
    source, sentences = articles["004_a8dd27559ae93e0a"]
    # an article whose text tries to run a script: it must show as text and never execute
    articles["004_a8dd27559ae93e0a"] = (source, [*sentences, (f"The Taliban said {PAYLOAD} today.",
                                                             [("afghan_taliban", "Taliban")])])
    records = make_sentences(articles)
    probabilities = {**PROBABILITIES, ("004_a8dd27559ae93e0a", 2, "afghan_taliban"): (0.6, 0.3, 0.1)}
    report = build_report(sentences=records, predictions=make_predictions(records, probabilities),
                          adjudicated=make_adjudicated(),
                          options=ReportOptions(n_resamples=300, labelstudio_url="http://127.0.0.1:8080",
                                                project_id=1))
    return write_report(report, tmp_path / "report", sentences=records).html


def launch(playwright, tmp_path):
    """Debian's headless Chromium with a throwaway profile and no background network."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make system-deps)")
    ARTIFACTS.mkdir(exist_ok=True)
    return playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"],
        viewport={"width": 1400, "height": 1000})


def test_report_opens_offline_with_charts_and_no_console_errors(report_html, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    messages, page_errors, requests = [], [], []
    with sync_api.sync_playwright() as p:
        context = launch(p, tmp_path)
        try:
            page = context.new_page()
            page.on("console", lambda m: messages.append((m.type, m.text)))
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report_html.as_uri(), wait_until="load")
            charts = page.eval_on_selector_all(
                "svg.chart", "els => els.map(e => { const r = e.getBoundingClientRect();"
                " return {w: r.width, h: r.height, cls: e.getAttribute('class'),"
                " marks: e.querySelectorAll('circle, g.cell rect').length}; })")
            pwned = page.evaluate("() => window.__slant_pwned")
            shown = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            page.set_viewport_size({"width": 1400, "height": 1600})
            page.screenshot(path=str(ARTIFACTS / "report-top.png"))
        finally:
            context.close()
    assert [m for m in messages if m[0] in ("error", "warning")] == []
    assert page_errors == []
    assert all(url.startswith("file://") for url in requests), requests  # no network at all
    assert pwned is None
    assert PAYLOAD in shown  # shown as text, not run
    interval_charts = [c for c in charts if "interval-chart" in c["cls"]]
    heatmaps = [c for c in charts if "heatmap" in c["cls"]]
    assert interval_charts and heatmaps
    assert all(c["w"] > 100 and c["h"] > 50 for c in charts), charts
    assert all(c["marks"] > 0 for c in heatmaps)
    assert sum(c["marks"] for c in interval_charts) > 0
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_corrected_report_shows_its_gold_raw_scores_and_disagreements(tmp_path):
    """A corrected report: the gold set named at the top, raw scores beside corrected ones, and
    a cell where model and human disagree flagged, all visible in the rendered page."""
    from test_report_corrected import one_sided_article, profile

    sync_api = pytest.importorskip("playwright.sync_api")
    sentences, predictions, adjudicated = one_sided_article()
    records = make_sentences() + sentences
    report = build_report(sentences=records, predictions=make_predictions(make_sentences()) + predictions,
                          adjudicated=make_adjudicated() + adjudicated, options=ReportOptions(n_resamples=300),
                          error_profile=profile(description="fixture gold <b>synthetic</b>"))
    html = write_report(report, tmp_path / "report", sentences=records).html
    messages = []
    with sync_api.sync_playwright() as p:
        context = launch(p, tmp_path)
        try:
            page = context.new_page()
            page.on("console", lambda m: messages.append((m.type, m.text)))
            page.goto(html.as_uri(), wait_until="load")
            box = page.inner_text("#correction")
            flags = page.locator(".tag.disagree")
            flagged, flag_visible = flags.count(), flags.first.is_visible()
            raw_visible = page.locator(".ci.raw").first.is_visible()
            page.screenshot(path=str(ARTIFACTS / "report-corrected.png"))
        finally:
            context.close()
    assert [m for m in messages if m[0] in ("error", "warning")] == []
    assert "Model scores are corrected for the classifier's measured errors" in box
    assert "fixture gold <b>synthetic</b>" in box  # the untrusted description shown as text
    assert "engagement targets: corrected from 400 gold items" in box
    assert flagged >= 1 and flag_visible and raw_visible
