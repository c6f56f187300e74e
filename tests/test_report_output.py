"""report.json schema, CSV tables, HTML escaping, atomic writes, dimensions and input errors, CLI."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from test_report_fixtures import ARTICLES, make_adjudicated, make_predictions, make_sentences
from typer.testing import CliRunner

from annotate.atomic import _umask
from annotate.report import DimensionError, ReportInputError, ReportOptions, build_report, load_dimensions, write_report
from annotate.report import writer as writer_module
from annotate.report.inputs import load_predictions
from annotate.report.render_html import highlight_segments
from annotate.schema import Mention

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = "<script>window.__slant_pwned = 1</script>"
IMG_PAYLOAD = "<img src=x onerror=\"window.__slant_pwned=2\">"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    sentences = make_sentences()
    report = build_report(sentences=sentences, predictions=make_predictions(sentences), adjudicated=make_adjudicated(),
                          options=ReportOptions(n_resamples=300, labelstudio_url="http://127.0.0.1:8080",
                                                project_id=2))
    return report, write_report(report, tmp_path_factory.mktemp("report"), sentences=sentences)


def test_report_json_has_the_documented_keys(written):
    report, paths = written
    data = json.loads(paths.json.read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(report))
    doc = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Report (report.json)"):]
    section = section[: section.find("\n## ", 5)] if "\n## " in section[5:] else section

    def documented(keys):
        missing = [k for k in keys if f"`{k}`" not in section]
        assert not missing, f"keys not documented in docs/schema.md: {missing}"

    top = {"schema_version", "generated_at", "labels", "bases", "settings", "inputs", "dimensions", "actors",
           "articles", "sources", "unattributed_articles", "problems", "correction"}
    assert set(data) == top
    documented(top)
    documented(data["settings"])
    documented(data["inputs"])
    article = data["articles"]["000_594f207f9f4d21fb"]
    assert set(article) == {"title", "source", "author", "date", "url", "n_sentences", "actors", "dimensions"}
    documented(article)
    entry = article["dimensions"]["critical_of_taliban"]
    assert set(entry) == {"human", "model", "difference", "difference_ci_low", "difference_ci_high", "raw_difference",
                          "raw_difference_ci_low", "raw_difference_ci_high", "disagreement"}
    documented(entry)
    score = entry["model"]
    assert set(score) == {"score", "ci_low", "ci_high", "n_sentences", "n_excluded", "status", "evidence",
                          "correction", "raw_score", "raw_ci_low", "raw_ci_high"}
    documented(score)
    evidence = score["evidence"][0]
    documented(evidence)
    documented(data["sources"]["fixture-outlet-1"])
    documented(data["sources"]["fixture-outlet-1"]["dimensions"]["pro_pakistan"]["model"])
    documented(data["dimensions"]["pro_engagement"])
    # ids as keys
    assert set(data["articles"]) == set(ARTICLES)
    assert set(data["sources"]) == {source for source, _ in ARTICLES.values()}
    expected = {"pro_engagement", "pro_pakistan", "critical_of_taliban", "net_pakistan", "net_ttp"}
    assert expected <= set(data["dimensions"])


def test_csv_tables_hold_the_same_numbers(written):
    report, paths = written
    rows = list(csv.DictReader(paths.articles_csv.open(encoding="utf-8")))
    assert len(rows) == len(report["articles"]) * len(report["dimensions"])
    by_key = {(r["article_id"], r["dimension"]): r for r in rows}
    entry = report["articles"]["000_594f207f9f4d21fb"]["dimensions"]["pro_pakistan"]
    row = by_key[("000_594f207f9f4d21fb", "pro_pakistan")]
    assert float(row["model_score"]) == pytest.approx(entry["model"]["score"])
    assert float(row["human_ci_high"]) == pytest.approx(entry["human"]["ci_high"])
    assert float(row["difference"]) == pytest.approx(entry["difference"])
    insufficient = by_key[("004_a8dd27559ae93e0a", "critical_of_taliban")]
    assert insufficient["model_status"] == "insufficient_evidence" and insufficient["model_score"] == ""

    sources = list(csv.DictReader(paths.sources_csv.open(encoding="utf-8")))
    assert len(sources) == len(report["sources"]) * len(report["dimensions"])
    outlet2 = {r["dimension"]: r for r in sources if r["source"] == "fixture-outlet-2"}
    assert outlet2["pro_engagement"]["n_articles"] == "2"
    assert float(outlet2["pro_engagement"]["model_score"]) == pytest.approx(
        report["sources"]["fixture-outlet-2"]["dimensions"]["pro_engagement"]["model"]["score"])

    evidence = list(csv.DictReader(paths.evidence_csv.open(encoding="utf-8")))
    expected = sum(len((entry.get(b) or {}).get("evidence", [])) for scope in ("articles", "sources")
                   for item in report[scope].values() for entry in item["dimensions"].values()
                   for b in ("human", "model"))
    assert len(evidence) == expected > 0
    linked = [e for e in evidence if e["labelstudio_url"]]
    assert linked and all(re.fullmatch(r"http://127\.0\.0\.1:8080/projects/2/data\?task=\d+", e["labelstudio_url"])
                          for e in linked)


def test_untrusted_text_is_escaped_in_the_html(tmp_path):
    hostile = {"000_594f207f9f4d21fb": (f"evil {PAYLOAD} outlet", [
        (f"Pakistan said {PAYLOAD} and {IMG_PAYLOAD} to Kabul.",
         [("pakistan", "Pakistan"), ("afghan_taliban", "Kabul")]),
        ("Pakistan again.", [("pakistan", "Pakistan")]), ("Pakistan thrice.", [("pakistan", "Pakistan")])])}
    sentences = make_sentences(hostile)
    for s in sentences:
        s.title = f"Title {PAYLOAD}"
    manifest = {"000_594f207f9f4d21fb": {"title": f"T {PAYLOAD}", "source": f"evil {PAYLOAD} outlet",
                                         "author": IMG_PAYLOAD, "date": "", "url": "javascript:alert(1)"}}
    report = build_report(sentences=sentences, predictions=make_predictions(sentences), manifest=manifest,
                          options=ReportOptions(n_resamples=50))
    html = write_report(report, tmp_path, sentences=sentences).html.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;window.__slant_pwned = 1&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert "script-src" in html or "default-src 'none'" in html  # CSP: no script may run at all


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(tmp_path):
    formula = '=HYPERLINK("http://evil.example","Pakistan")'
    texts = {"000_594f207f9f4d21fb": ("@outlet", [
        (f"{formula} said Pakistan.", [("pakistan", "Pakistan")]),
        ("-Pakistan again.", [("pakistan", "Pakistan")]), ("+Pakistan thrice.", [("pakistan", "Pakistan")])])}
    sentences = make_sentences(texts)
    report = build_report(sentences=sentences, predictions=make_predictions(sentences),
                          options=ReportOptions(n_resamples=50))
    paths = write_report(report, tmp_path, sentences=sentences)
    evidence = list(csv.DictReader(paths.evidence_csv.open(encoding="utf-8")))
    cells = {e["text"] for e in evidence}
    assert cells and cells <= {f"'{formula} said Pakistan.", "'-Pakistan again.", "'+Pakistan thrice."}
    assert not any(c.startswith(("=", "-", "+", "@")) for e in evidence for c in e.values())
    articles = list(csv.DictReader(paths.articles_csv.open(encoding="utf-8")))
    assert {r["source"] for r in articles} == {"'@outlet"}
    negative = [r["model_score"] for r in articles if r["model_score"].startswith("-")]
    # Numbers are not text: a negative score stays a number (checked only when one occurs).
    assert all(float(v) < 0 for v in negative)
    report_json = json.loads(paths.json.read_text(encoding="utf-8"))
    texts_in_json = {ev["text"] for a in report_json["articles"].values() for d in a["dimensions"].values()
                     for b in ("human", "model") for ev in (d.get(b) or {}).get("evidence", [])}
    assert texts_in_json == {c[1:] for c in cells}


def test_mentions_are_highlighted_by_offsets():
    text = "Islamabad warned Kabul."
    mentions = [Mention("pakistan", "Islamabad", 0, 9), Mention("afghan_taliban", "Kabul", 17, 22),
                Mention("bogus", "x", 40, 45)]
    segments = highlight_segments(text, mentions, target="afghan_taliban")
    assert "".join(s["text"] for s in segments) == text
    assert [(s["text"], s["actor"], s["target"]) for s in segments if s["actor"]] == [
        ("Islamabad", "pakistan", False), ("Kabul", "afghan_taliban", True)]


def test_a_failed_render_leaves_the_previous_report_intact(written, tmp_path, monkeypatch):
    report, _ = written
    paths = write_report(report, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(writer_module, "render_html", broken)
    changed = dict(report, generated_at="1999-01-01T00:00:00+00:00")
    with pytest.raises(RuntimeError):
        write_report(changed, tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert "1999-01-01" not in paths.json.read_text(encoding="utf-8")


def test_dimensions_file_errors_name_the_valid_keys(tmp_path):
    bad_key = tmp_path / "bad_key.toml"
    bad_key.write_text('[dimensions.x]\ntitle = "X"\ntarget = "pakistan"\ndirection = "favorable"\ncolour = "red"\n')
    with pytest.raises(DimensionError, match=r"bad_key\.toml.*\[dimensions\.x\].*'colour'.*valid keys: description, "
                                             r"direction, target, title"):
        load_dimensions(bad_key)
    bad_direction = tmp_path / "bad_direction.toml"
    bad_direction.write_text('[dimensions.x]\ntitle = "X"\ntarget = "pakistan"\ndirection = "pro"\n')
    with pytest.raises(DimensionError, match="direction must be one of favorable, critical"):
        load_dimensions(bad_direction)
    missing = tmp_path / "missing.toml"
    missing.write_text('[dimensions.x]\ntitle = "X"\n')
    with pytest.raises(DimensionError, match="missing required key.*target, direction"):
        load_dimensions(missing)
    with pytest.raises(DimensionError, match="not found"):
        load_dimensions(tmp_path / "nope.toml")


def test_users_add_dimensions_without_code(tmp_path):
    custom = tmp_path / "dims.toml"
    custom.write_text('[dimensions.critical_of_us]\ntitle = "Critical of the US"\ntarget = "united_states"\n'
                      'direction = "critical"\n\n[per_actor]\nenabled = false\n')
    dims = load_dimensions(custom, actors=["pakistan"])
    assert [d.key for d in dims] == ["critical_of_us"] and dims[0].sign == -1
    sentences = make_sentences()
    report = build_report(sentences=sentences, predictions=make_predictions(sentences), dimensions=str(custom),
                          options=ReportOptions(n_resamples=50))
    assert list(report["dimensions"]) == ["critical_of_us"]
    builtin = load_dimensions(actors=["pakistan", "ttp"])
    assert [d.key for d in builtin][-2:] == ["net_pakistan", "net_ttp"]
    typo = tmp_path / "typo.toml"
    typo.write_text('[dimensions.x]\ntitle = "X"\ntarget = "pakistn"\ndirection = "favorable"\n')
    report = build_report(sentences=sentences, predictions=make_predictions(sentences), dimensions=str(typo),
                          options=ReportOptions(n_resamples=50))
    assert report["problems"][0].startswith("dimension 'x' targets 'pakistn', which no sentence")
    assert "pakistan" in report["problems"][0]


def test_bad_prediction_lines_are_named_and_skipped(tmp_path):
    sentences = make_sentences()
    good = [json.dumps(p.to_dict()) for p in make_predictions(sentences)[:3]]
    broken = dict(json.loads(good[0]), probabilities={"critical": 0.5, "favorable": 0.5})
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n".join([good[0], "{not json", json.dumps(broken), good[1], "", good[2]]) + "\n")
    from annotate.labels import load_label_set
    records, problems = load_predictions(path, labels=load_label_set().stance)
    assert len(records) == 3
    assert problems[0].startswith(f"{path}:2: not valid JSON")
    assert problems[1].startswith(f"{path}:3: not a valid prediction record") and "stance labels" in problems[1]
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps(dict(json.loads(good[0]), calibrated=True)) + "\n")
    records, problems = load_predictions(newer, labels=load_label_set().stance)
    assert len(records) == 1 and problems == [f"{newer}: ignored unknown prediction field(s): calibrated"]
    missing = tmp_path / "missing_field.jsonl"
    missing.write_text(json.dumps({k: v for k, v in json.loads(good[0]).items() if k != "target"}) + "\n")
    with pytest.raises(ReportInputError, match=r"missing_field.jsonl.*:1: .*target"):
        load_predictions(missing, labels=load_label_set().stance)
    only_bad = tmp_path / "only_bad.jsonl"
    only_bad.write_text("{not json\n")
    with pytest.raises(ReportInputError, match="only_bad.jsonl: no valid prediction record"):
        load_predictions(only_bad, labels=load_label_set().stance)


def test_inconsistent_prediction_lines_are_named_and_skipped(tmp_path):
    from annotate.labels import load_label_set

    sentences = make_sentences()
    good = json.loads(json.dumps(make_predictions(sentences)[0].to_dict()))
    top = max(good["probabilities"], key=good["probabilities"].get)
    other = next(label for label in good["probabilities"] if label != top)
    lines = [dict(good, model_version=None), dict(good, label=other),
             dict(good, probabilities={**good["probabilities"], top: True}),
             dict(good, probabilities={k: v * 1.0009 for k, v in good["probabilities"].items()})]
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    records, problems = load_predictions(path, labels=load_label_set().stance)
    assert len(records) == 1 and abs(sum(records[0].probabilities.values()) - 1) < 1e-12
    assert problems[0].startswith(f"{path}:1:") and "model_version must be a non-empty string" in problems[0]
    assert problems[1].startswith(f"{path}:2:") and f"label {other!r} is not the most probable class" in problems[1]
    assert problems[2].startswith(f"{path}:3:") and "must be a number, not True" in problems[2]


def test_a_human_label_that_is_not_a_stance_class_is_a_listed_problem(tmp_path):
    from test_report_fixtures import make_annotations

    from annotate.report.inputs import load_annotations

    annotations = make_annotations()
    lines = [a.to_dict() for a in annotations]
    lines[1]["label"] = "positive"
    path = tmp_path / "annotations.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    records, problems = load_annotations(path)
    assert len(records) == len(lines) - 1
    assert problems == [f"{path}:2: not a valid annotation record: label 'positive' is not one of "
                        f"['critical', 'neutral', 'favorable']"]


def test_whole_input_findings_come_first_and_fix_the_counts(tmp_path):
    from annotate.report import make_report

    sentences = make_sentences()
    predictions = make_predictions(sentences)
    first = sentences[0]
    # a prediction that names another article, a second model version, and many duplicate lines
    moved = [dict(p.to_dict(), article_id="stale-article") for p in predictions if p.sentence_id == first.sentence_id]
    other_version = dict(predictions[-1].to_dict(), model_version="baseline-other")
    lines = [p.to_dict() for p in predictions[:-1]] * 2 + moved + [other_version]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    # the sentences file given twice over
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(x.to_dict()) + "\n" for x in sentences) * 2)
    result = make_report(predictions=tmp_path / "p.jsonl", sentences=tmp_path / "s.jsonl", out_dir=tmp_path / "out",
                         options=ReportOptions(n_resamples=50))
    problems = result.problems
    assert problems[0].startswith(f"{len(sentences)} sentence record(s) repeat a sentence id")
    assert problems[1].startswith(f"{len(moved)} prediction(s) name another article")
    assert problems[2].startswith("predictions come from 2 model versions")
    assert all("given twice" in p for p in problems[3:]) and len(problems) > 10
    report = result.report
    assert "stale-article" not in report["articles"]
    article = report["articles"][first.article_id]
    assert article["n_sentences"] == sum(1 for x in sentences if x.article_id == first.article_id)
    for entry in article["dimensions"].values():
        assert (entry["model"] or {}).get("n_sentences", 0) <= article["n_sentences"]


def test_an_empty_input_is_nothing_to_score_not_an_empty_report(tmp_path):
    from annotate.report import make_report

    sentences = make_sentences()
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(x.to_dict()) + "\n" for x in sentences))
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ReportInputError, match="nothing to score: .*empty.jsonl hold"):
        make_report(predictions=tmp_path / "empty.jsonl", sentences=tmp_path / "s.jsonl", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p.to_dict()) + "\n" for p in make_predictions(sentences)))
    result = make_report(predictions=tmp_path / "p.jsonl", annotations=tmp_path / "empty.jsonl",
                         sentences=tmp_path / "s.jsonl", out_dir=tmp_path / "out", options=ReportOptions(n_resamples=50))
    assert result.problems[0] == f"{tmp_path / 'empty.jsonl'}: holds no record; that basis is left out"
    assert result.report["bases"] == ["model"]


def _write_inputs(tmp_path):
    sentences = make_sentences()
    (tmp_path / "sentences.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in sentences))
    (tmp_path / "predictions.jsonl").write_text(
        "".join(json.dumps(p.to_dict()) + "\n" for p in make_predictions(sentences)) + "{oops\n")
    from test_report_fixtures import make_annotations
    (tmp_path / "annotations.jsonl").write_text("".join(json.dumps(a.to_dict()) + "\n" for a in make_annotations()))
    return tmp_path


def test_cli_writes_the_report_and_prints_where(tmp_path):
    from models.cli import app

    inputs = _write_inputs(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["report", "--predictions", str(inputs / "predictions.jsonl"),
                                      "--annotations", str(inputs / "annotations.jsonl"),
                                      "--sentences", str(inputs / "sentences.jsonl"), "--out", str(out),
                                      "--bootstrap", "100", "--labelstudio-url", "http://127.0.0.1:8080",
                                      "--project-id", "9"])
    assert result.exit_code == 0, result.output
    assert str((out / "report.html").resolve()) in result.output
    assert "predictions.jsonl:" in result.output  # the bad last line is reported by file:line
    data = json.loads((out / "report.json").read_text())
    assert data["bases"] == ["human", "model"] and data["settings"]["n_resamples"] == 100
    assert any("predictions.jsonl" in p for p in data["problems"])
    for name in ("articles.csv", "sources.csv", "evidence.csv", "report.html", "report.json"):
        assert (out / name).stat().st_size > 0
        assert (out / name).stat().st_mode & 0o044 == 0o044 & ~_umask()  # readable like any new file
    assert not list(out.glob(".*.tmp"))


def test_cli_errors_are_clear_and_without_traceback(tmp_path):
    from models.cli import app

    inputs = _write_inputs(tmp_path)
    result = CliRunner().invoke(app, ["report", "--predictions", str(tmp_path / "missing.jsonl"),
                                      "--sentences", str(inputs / "sentences.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "missing.jsonl: prediction file not found" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["report", "--sentences", str(inputs / "sentences.jsonl"),
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "give predictions, annotations, or both" in result.output
    result = CliRunner().invoke(app, ["report", "--predictions", str(inputs / "predictions.jsonl"),
                                      "--sentences", str(inputs), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and f"{inputs}: is a directory, not a sentence file" in result.output
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    result = CliRunner().invoke(app, ["report", "--predictions", str(inputs / "predictions.jsonl"),
                                      "--sentences", str(inputs / "sentences.jsonl"), "--out", str(taken),
                                      "--bootstrap", "10"])
    assert result.exit_code == 1 and str(taken) in result.output and "Traceback" not in result.output
    assert taken.read_text() == "not a folder"


def test_report_package_stays_light():
    import subprocess
    import sys

    code = ("import sys, annotate.report, annotate.report.render_html; "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'models', 'spacy')]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_a_label_studio_url_is_checked_only_when_links_are_made():
    ReportOptions(labelstudio_url="localhost:8080")  # no project id: no links, no error
    with pytest.raises(ValueError, match="must start with http"):
        ReportOptions(labelstudio_url="localhost:8080", project_id=3)
