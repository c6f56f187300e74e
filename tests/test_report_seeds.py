"""The report on the built-in corpus: seeds ingested for real, gold labels from seeds/gold/export.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate.corpus import ingest_paths, load_manifest
from annotate.labels import ENGAGEMENT_TARGET
from annotate.report import ReportOptions, build_report, write_report

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "seeds" / "gold" / "export.json"
HEADLINE = ("pro_engagement", "pro_pakistan", "critical_of_taliban")


@pytest.fixture(scope="module")
def seeds_report(tmp_path_factory):
    if not GOLD.is_file():
        pytest.fail(f"{GOLD} is missing: the seeds' gold labels are part of the built-in corpus")
    from annotate.labelstudio.pull import pull_from_file

    manifest = load_manifest(ROOT / "seeds" / "manifest.toml")
    sentences = ingest_paths([ROOT / "seeds"], manifest=manifest).records
    annotations = pull_from_file(GOLD).records
    report = build_report(sentences=sentences, annotations=annotations, manifest=manifest,
                          options=ReportOptions(n_resamples=500))
    paths = write_report(report, tmp_path_factory.mktemp("seeds-report"), sentences=sentences)
    return report, paths, sentences, annotations, manifest


def test_every_seed_article_is_scored_on_the_headline_dimensions(seeds_report):
    report, _, sentences, annotations, manifest = seeds_report
    assert set(report["articles"]) == set(manifest) == {s.article_id for s in sentences}
    assert report["problems"] == []
    for article_id, article in report["articles"].items():
        labeled = {a.sentence_id for a in annotations if a.article_id == article_id
                   and a.target == ENGAGEMENT_TARGET and a.label is not None and not a.off_target}
        engagement = article["dimensions"]["pro_engagement"]["human"]
        assert engagement["n_sentences"] == len(labeled)
        for key in HEADLINE:
            score = article["dimensions"][key]["human"]
            if score["status"] == "ok":
                assert -1 <= score["ci_low"] <= score["score"] <= score["ci_high"] <= 1
            else:
                assert score["n_sentences"] < report["settings"]["min_sentences"]


def test_seed_sources_come_only_from_the_manifest(seeds_report):
    report, _, _, annotations, manifest = seeds_report
    known = {m.source for m in manifest.values() if m.source}
    assert set(report["sources"]) == known
    assert set(report["unattributed_articles"]) == {a for a, m in manifest.items() if not m.source}
    # one pass by one labeler is one annotator's labels, and the report says so
    assert report["inputs"]["n_annotators"] == len({a.annotator for a in annotations})


def test_seed_evidence_quotes_the_article_and_highlights_its_mentions(seeds_report):
    report, paths, sentences, _, _ = seeds_report
    by_id = {s.sentence_id: s for s in sentences}
    evidence = [e for a in report["articles"].values() for k in HEADLINE
                for e in a["dimensions"][k]["human"]["evidence"]]
    assert evidence
    for e in evidence:
        assert e["text"] == by_id[e["sentence_id"]].text
        assert e["label"] in report["labels"] and e["value"] != 0
    html = paths.html.read_text(encoding="utf-8")
    assert html.count('<mark class="actor') >= sum(len(s.mentions) for s in sentences)
    assert json.loads(paths.json.read_text(encoding="utf-8"))["articles"].keys() == report["articles"].keys()


def test_cli_reads_the_label_studio_export_directly(tmp_path):
    from typer.testing import CliRunner

    from models.cli import app

    sentences = ingest_paths([ROOT / "seeds"], manifest=load_manifest(ROOT / "seeds" / "manifest.toml")).records
    (tmp_path / "sentences.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in sentences))
    sentences_file = str(tmp_path / "sentences.jsonl")
    result = CliRunner().invoke(app, ["report", "--annotations", str(GOLD), "--sentences", sentences_file,
                                      "--manifest", str(ROOT / "seeds" / "manifest.toml"),
                                      "--out", str(tmp_path / "r"), "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["bases"] == ["human"] and data["inputs"]["n_annotations"] > 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    result = CliRunner().invoke(app, ["report", "--annotations", str(bad), "--sentences", sentences_file,
                                      "--out", str(tmp_path / "r2")])
    assert result.exit_code == 1 and "bad.json" in result.output and "Traceback" not in result.output
