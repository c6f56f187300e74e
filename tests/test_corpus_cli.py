"""``slant ingest``: output, summary, errors naming files, exit codes, --strict, --rules/--actors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.cli import app

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
GOOD = "Pakistan accuses Kabul of harboring the Pakistani Taliban. Washington stays on the sidelines."


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str):
    return runner.invoke(app, ["ingest", *args, "--quiet"])


def test_ingest_seeds_writes_one_record_per_sentence(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "sentences.jsonl"
    result = run(runner, str(SEEDS), "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert "5 articles" in result.output and f"{len(rows)} sentences" in result.output
    assert {r["article_id"] for r in rows} == {p.stem for p in SEEDS.glob("*.txt")}
    assert set(rows[0]) >= {"sentence_id", "article_id", "index", "text", "start", "end", "context_before", "context_after", "mentions"}
    # the manifest next to the seeds fills title/source
    by_article = {r["article_id"]: r for r in rows}
    assert by_article["004_a8dd27559ae93e0a"]["source"] == "Dawat Media Center"


def test_a_folders_csv_manifest_is_not_read_as_articles(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a1.txt").write_text(GOOD, encoding="utf-8")
    (folder / "manifest.csv").write_text("id,title,source\na1,Talks,Dawn\n", encoding="utf-8")
    out = tmp_path / "sentences.jsonl"
    result = run(runner, str(folder), "--out", str(out), "--strict")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["article_id"] for r in rows} == {"a1"} and rows[0]["source"] == "Dawn"


def test_one_bad_file_among_good_ones(runner: CliRunner, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD)
    (corpus / "bad.txt").write_bytes(b"\x00\x01\x02binary")
    out = tmp_path / "s.jsonl"
    result = run(runner, str(corpus), "--out", str(out))
    assert result.exit_code == 0
    assert f"{corpus / 'bad.txt'}: looks like a binary file" in result.output
    assert "1 articles" in result.output and "1 errors" in result.output
    assert out.exists()

    strict_out = tmp_path / "strict.jsonl"
    strict = run(runner, str(corpus), "--out", str(strict_out), "--strict")
    assert strict.exit_code == 1
    assert "--strict" in strict.output and not strict_out.exists()


def test_nothing_processed_exits_non_zero(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    out = tmp_path / "s.jsonl"
    result = run(runner, str(tmp_path), "--out", str(out))
    assert result.exit_code == 1
    assert "empty.txt: file is empty" in result.output and "nothing could be processed" in result.output
    assert not out.exists()
    missing = run(runner, str(tmp_path / "missing"), "--out", str(out))
    assert missing.exit_code == 1 and "no such file or folder" in missing.output


def test_bad_rules_or_actors_file_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(GOOD)
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nname = \"x\"\npattern = '(('\n")
    result = run(runner, str(tmp_path / "a.txt"), "--out", str(tmp_path / "s.jsonl"), "--rules", str(rules))
    assert result.exit_code == 2 and f"{rules}: rule 'x': invalid regular expression" in result.output
    assert "Traceback" not in result.output
    actors = tmp_path / "actors.toml"
    actors.write_text("[actors.x]\n")
    result = run(runner, str(tmp_path / "a.txt"), "--out", str(tmp_path / "s.jsonl"), "--actors", str(actors))
    assert result.exit_code == 2 and str(actors) in result.output


def test_rules_and_actors_options_change_the_output(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Subscribe now for more.\nNATO and Pakistan met.")
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nname = \"subscribe\"\npattern = '^Subscribe now.*$'\n")
    actors = tmp_path / "actors.toml"
    actors.write_text('[actors.nato]\nname = "NATO"\ncased = ["NATO"]\n')
    out = tmp_path / "s.jsonl"
    result = run(runner, str(tmp_path / "a.txt"), "--out", str(out), "--rules", str(rules), "--actors", str(actors))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["NATO and Pakistan met."]
    assert [m["actor"] for m in rows[0]["mentions"]] == ["nato"]


def test_messages_with_brackets_are_printed_verbatim(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "[draft] article.txt").write_text("")
    (tmp_path / "ok.txt").write_text(GOOD)
    result = run(runner, str(tmp_path), "--out", str(tmp_path / "s.jsonl"))
    assert result.exit_code == 0
    assert f"{tmp_path / '[draft] article.txt'}: file is empty" in result.output


def test_a_second_run_into_the_corpus_folder_does_not_read_its_own_output(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "a1.txt").write_text(GOOD, encoding="utf-8")
    out = tmp_path / "sentences.jsonl"
    first = run(runner, str(tmp_path), "--out", str(out), "--strict")
    before = out.read_bytes()
    second = run(runner, str(tmp_path), "--out", str(out), "--strict")
    assert first.exit_code == second.exit_code == 0, second.output
    assert "1 articles" in second.output and out.read_bytes() == before


@pytest.mark.parametrize("target", ["folder", "file.txt/x.jsonl"])
def test_an_out_path_that_cannot_be_a_file_is_refused_before_any_work(runner: CliRunner, tmp_path: Path, target: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text(GOOD, encoding="utf-8")
    result = run(runner, str(tmp_path / "file.txt"), "--out", str(tmp_path / target))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: --out {tmp_path / target}: ") and len(result.output.splitlines()) == 1
    assert "articles" not in result.output  # nothing was ingested


def test_actors_extra_adds_to_the_built_in_registry_and_the_summary_counts_removed_lines(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Sign In Now\nThe BLA and the TTP attacked; Kabul was silent.\nShare Tweet\n")
    extra = tmp_path / "extra.toml"
    extra.write_text('[actors.bla]\nname = "Balochistan Liberation Army"\ncased = ["BLA"]\n')
    out = tmp_path / "s.jsonl"
    result = run(runner, str(tmp_path / "a.txt"), "--out", str(out), "--actors-extra", str(extra))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["actor"] for m in rows[0]["mentions"]] == ["bla", "ttp", "afghan_taliban"]
    assert rows[0]["removed_lines"] == {"paywall_prompt": 1, "share_bar": 1}
    assert "2 boilerplate lines removed (paywall_prompt 1, share_bar 1); per article: a 2" in result.output
    extra.write_text('[[person]]\nname = "Someone"\nactor = "narnia"\n')
    result = run(runner, str(tmp_path / "a.txt"), "--out", str(out), "--actors-extra", str(extra))
    assert result.exit_code == 2 and str(extra) in result.output and "valid actor ids" in result.output
