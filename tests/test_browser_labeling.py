"""The annotator's screen: headless Debian chromium labels a pushed task in the real Label Studio UI."""

from __future__ import annotations

import re
import shutil

import pytest
from labelstudio_data import seed_sentences

from annotate.labels import load_label_set
from annotate.labelstudio.pull import export_project, pull
from annotate.labelstudio.push import existing_tasks, push_sentences
from annotate.labelstudio.tasks import default_actor_name

pytestmark = [pytest.mark.slow, pytest.mark.labelstudio, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (make system-deps)")
def test_annotator_labels_one_stance_per_actor_and_the_annotation_is_exported(label_studio, project_title,
                                                                              artifacts_dir, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    labels = load_label_set()
    conn = label_studio.connection()
    sentence = seed_sentences()[2]  # Pakistan, Kabul (the Afghan Taliban) and three names of the TTP
    actors = sentence.actors()
    result = push_sentences(conn, [sentence], project=project_title, progress=False)
    task = existing_tasks(conn, result.project_id)[sentence.sentence_id]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1100})
        try:
            page = browser.new_page()
            page.goto(f"{label_studio.url}/user/login", wait_until="domcontentloaded")
            page.fill("input[name=email]", label_studio.admin_email)
            page.fill("input[name=password]", label_studio.password())
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/user/login" not in url, timeout=60_000)
            page.goto(f"{label_studio.url}/projects/{result.project_id}/data?task={task.id}")
            # The labeling pane renders the sentence as rich text (the task table beside it has it too).
            page.locator(".lsf-richtext__line", has_text=sentence.text).first.wait_for(timeout=90_000)

            # One stance row per actor: its display name, its mentions, and the three stance choices.
            # (A choice's accessible name is its value plus the hotkey hint, e.g. "Critical1".)
            def choices(value: str):
                return page.get_by_role("checkbox", name=re.compile(rf"^{re.escape(value)}\W*(\[?[\w+]+\]?)?$"))

            stance_rows = {value: choices(value.capitalize()) for value in labels.stance}
            choices("Supports engagement").wait_for(timeout=30_000)  # the last control: all rendered
            for locator in stance_rows.values():
                # The Repeater's rows can render after the engagement block: wait for the count.
                expect(locator).to_have_count(len(actors), timeout=30_000)
            page.screenshot(path=str(artifacts_dir / "labelstudio-task-opened.png"), full_page=True)
            for actor in actors:  # each row is headed by the registry's display name
                name = default_actor_name(actor)
                page.get_by_text(name, exact=True).first.wait_for(timeout=15_000)  # raises if never shown
            assert choices("This mention is not that actor").count() == len(actors)

            # Label: Pakistan critical, Afghan Taliban favorable, TTP "not that actor"; engagement supported.
            stance_rows["critical"].nth(0).click()
            stance_rows["favorable"].nth(1).click()
            choices("This mention is not that actor").nth(2).click()
            choices("Supports engagement").click()
            page.screenshot(path=str(artifacts_dir / "labelstudio-labeling.png"), full_page=True)
            page.get_by_role("button", name="Submit").click()
            for _ in range(60):  # the submit is asynchronous: wait until the server has it
                if export_project(conn, result.project_id)[0]["annotations"]:
                    break
                page.wait_for_timeout(500)
        finally:
            browser.close()

    exported = export_project(conn, result.project_id)[0]
    assert len(exported["annotations"]) == 1
    stored = {r["from_name"]: r["value"]["choices"] for r in exported["annotations"][0]["result"]}
    # The export stores the Choice aliases of label_config.xml, not the display values.
    assert stored == {"stance_0": ["critical"], "stance_1": ["favorable"], "not_actor_2": [labels.not_actor],
                      "engagement": ["favorable"]}
    records = {r.target: r for r in pull(conn, project=project_title).records}
    assert records["pakistan"].label == "critical" and records["afghan_taliban"].label == "favorable"
    assert records["ttp"].off_target and records["ttp"].label is None
    assert records["engagement"].label == "favorable"
    assert all(r.annotator == label_studio.admin_email and r.lead_time for r in records.values())
