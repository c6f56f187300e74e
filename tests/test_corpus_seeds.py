"""The built-in corpus: manifest, frozen sentence ids, and mention quality against the gold list."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from annotate.corpus import IngestResult, ingest_paths, load_manifest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def seeds() -> IngestResult:
    return ingest_paths([SEEDS])


def test_manifest_covers_every_seed_and_invents_nothing() -> None:
    manifest = load_manifest(SEEDS / "manifest.toml")
    assert set(manifest) == {p.stem for p in SEEDS.glob("*.txt")}
    for meta in manifest.values():
        text = (SEEDS / f"{meta.id}.txt").read_text(encoding="utf-8")
        for value in (meta.title, meta.source, meta.author, meta.date, meta.url):
            assert value == "" or value in text, (meta.id, value)  # every filled field is in the text


def test_seed_sentences_match_the_frozen_ids_and_boundaries(seeds: IngestResult) -> None:
    """Gold labels are keyed by these ids: a change to cleaning or splitting must not move them."""
    with open(DATA / "seed_sentences_frozen.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))
    frozen = [(r["sentence_id"], r["article_id"], int(r["index"]), int(r["start"]), int(r["end"])) for r in rows]
    now = [(r.sentence_id, r.article_id, r.index, r.start, r.end) for r in seeds.records]
    assert now == frozen


def test_seed_mention_quality_meets_targets(seeds: IngestResult) -> None:
    spec = importlib.util.spec_from_file_location("bench_mentions", ROOT / "bench" / "mentions.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    gold = bench.load_gold(DATA / "gold_mentions.jsonl")
    pred, _, _ = bench.predicted_mentions(SEEDS)
    tp = len(set(gold) & set(pred))
    precision, recall, _ = bench.prf(tp, len(pred), len(gold))
    assert precision >= 0.95, precision
    assert recall >= 0.90, recall


def test_gold_mentions_point_at_their_text() -> None:
    import json

    texts = {p.stem: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    with open(DATA / "gold_mentions.jsonl", encoding="utf-8") as fh:
        gold = [json.loads(line) for line in fh]
    assert len(gold) > 400
    for g in gold:
        assert texts[g["article_id"]][g["start"]: g["end"]] == g["text"]
