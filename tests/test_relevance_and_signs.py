"""Engagement relevance head, relevance rows, the report's relevance filter, sign agreement."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotate.report.sign_agreement import headline_dimensions, sign_agreement, slant_sign
from models.relevance import RELEVANCE_FILE, RelevanceError, RelevanceHead


def _separable(n: int = 60, d: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    about = np.arange(n) % 3 != 0
    x = rng.normal(size=(n, d))
    x[:, 0] += np.where(about, 2.0, -2.0)
    return x, about


def test_relevance_head_learns_and_round_trips(tmp_path):
    x, about = _separable()
    head = RelevanceHead().fit(x, about)
    p = head.predict_proba(x)
    assert p.shape == (len(x),) and np.all((p >= 0) & (p <= 1))
    assert ((p >= 0.5) == about).mean() > 0.9
    head.save(tmp_path)
    again = RelevanceHead.load(tmp_path, n_features=x.shape[1])
    np.testing.assert_allclose(again.predict_proba(x), p)


def test_relevance_head_refuses_one_class_and_bad_shapes(tmp_path):
    x, _ = _separable()
    with pytest.raises(ValueError, match="not about"):
        RelevanceHead().fit(x, np.ones(len(x), dtype=bool))
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        RelevanceHead().fit(x[:, 0], np.ones(len(x), dtype=bool))
    head = RelevanceHead().fit(*_separable())
    with pytest.raises(ValueError, match="features must be"):
        head.predict_proba(x[:, :3])
    head.save(tmp_path)
    with pytest.raises(RelevanceError, match="does not fit"):
        RelevanceHead.load(tmp_path, n_features=3)
    (tmp_path / RELEVANCE_FILE).write_bytes(b"not safetensors")
    with pytest.raises(RelevanceError, match=RELEVANCE_FILE):
        RelevanceHead.load(tmp_path)


def test_slant_sign_dead_zone():
    assert [slant_sign(v) for v in (-0.5, -0.1, 0.0, 0.1, 0.11)] == [-1, 0, 0, 0, 1]
    assert slant_sign(0.05, dead_zone=0.0) == 1
    with pytest.raises(ValueError):
        slant_sign(0.0, dead_zone=-1)


def _report(model: dict, human: dict) -> dict:
    dims = {"pro_engagement": {"target": "engagement", "per_actor": False},
            "pro_pakistan": {"target": "pakistan", "per_actor": False},
            "net_pakistan": {"target": "pakistan", "per_actor": True},
            "net_china": {"target": "china", "per_actor": True}}
    articles = {}
    for article in sorted(set(model) | set(human)):
        articles[article] = {"dimensions": {
            dim: {"model": {"score": model.get(article, {}).get(dim)}, "human": {"score": human.get(article, {}).get(dim)}}
            for dim in dims}}
    return {"dimensions": dims, "articles": articles}


def test_sign_agreement_counts_cells_with_both_scores_and_skips_repeated_rows():
    report = _report(model={"a": {"pro_engagement": 0.6, "pro_pakistan": -0.3, "net_pakistan": -0.3, "net_china": 0.05},
                            "b": {"pro_engagement": 0.4}},
                     human={"a": {"pro_engagement": -0.5, "pro_pakistan": -0.2, "net_pakistan": -0.2, "net_china": 0.0},
                            "b": {"pro_engagement": None}})
    assert headline_dimensions(report) == ["pro_engagement", "pro_pakistan", "net_china"]
    result = sign_agreement(report)
    assert result["overall"] == {"cells": 3, "right": 2, "agreement": round(2 / 3, 4)}
    assert result["dimensions"]["pro_engagement"] == {"cells": 1, "right": 0}
    assert sign_agreement(_report({}, {}))["overall"]["agreement"] is None


def test_sign_agreement_of_a_model_only_report_against_a_human_one():
    model = _report(model={"a": {"pro_engagement": -0.4}}, human={})
    human = _report(model={}, human={"a": {"pro_engagement": -0.8}})
    assert sign_agreement(model, human)["overall"] == {"cells": 1, "right": 1, "agreement": 1.0}


def test_relevance_rows_follow_the_stance_split_and_skip_unresolved():
    from annotate.adjudication import adjudicate
    from annotate.dataset import build_dataset, relevance_rows
    from annotate.schema import AnnotationRecord

    records = []
    for article in ("a1", "a2", "a3"):
        for i in range(4):
            sid = f"{article}-{i}"
            off = i == 3
            records.append(AnnotationRecord(task_id=None, sentence_id=sid, article_id=article, target="engagement",
                                            label=None if off else ["critical", "neutral", "favorable"][i],
                                            annotator="one@example.org", off_target=off, text=f"Sentence {sid}."))
    adjudicated = adjudicate(records)
    dataset = build_dataset(adjudicated, val_fraction=0.34, test_fraction=0.34)
    rows = relevance_rows(adjudicated, dataset=dataset)
    assert len(rows) == 12 and sum(not r["about"] for r in rows) == 3
    split_of = {a: s for s, ds in dataset.items() for a in ds["article_id"]}
    assert all(r["split"] == split_of[r["article_id"]] for r in rows)


def test_report_leaves_out_predictions_the_relevance_head_calls_off_topic():
    from annotate.report.build import ReportOptions, build_report
    from annotate.schema import PredictionRecord, SentenceRecord

    sentences = [SentenceRecord(sentence_id=f"s{i}", article_id="a", index=i, text=f"Sentence {i}.", start=0, end=11)
                 for i in range(4)]
    fav = {"critical": 0.0, "neutral": 0.1, "favorable": 0.9}
    crit = {"critical": 0.9, "neutral": 0.1, "favorable": 0.0}
    predictions = [PredictionRecord(f"s{i}", "a", "engagement", "favorable", fav, "m", relevance=0.9) for i in range(3)]
    predictions.append(PredictionRecord("s3", "a", "engagement", "critical", crit, "m", relevance=0.1))
    scored = build_report(sentences=sentences, predictions=predictions)
    model = scored["articles"]["a"]["dimensions"]["pro_engagement"]["model"]
    assert model["n_sentences"] == 3 and model["n_excluded"] == 1 and model["score"] == pytest.approx(0.9)
    everything = build_report(sentences=sentences, predictions=predictions,
                              options=ReportOptions(relevance_threshold=0.0))
    assert everything["articles"]["a"]["dimensions"]["pro_engagement"]["model"]["n_sentences"] == 4
    with pytest.raises(ValueError, match="relevance"):
        build_report(sentences=sentences, predictions=[PredictionRecord("s0", "a", "engagement", "favorable", fav, "m",
                                                                        relevance=1.5)])


def test_prediction_lines_carry_relevance_only_when_there_is_one():
    from annotate.schema import PredictionRecord

    plain = PredictionRecord("s", "a", "pakistan", "neutral", {"critical": 0, "neutral": 1, "favorable": 0}, "m")
    assert "relevance" not in plain.to_dict()
    with_rel = PredictionRecord("s", "a", "engagement", "neutral", plain.probabilities, "m", relevance=0.25)
    assert json.loads(json.dumps(with_rel.to_dict()))["relevance"] == 0.25
    assert PredictionRecord.from_dict(with_rel.to_dict()) == with_rel
