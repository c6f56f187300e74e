"""The shipped transfer data and the training mix drawn from it."""

from __future__ import annotations

import json

import pytest

from models.transfer import TOPIC_FILES, TRANSFER_DIR, TransferDataError, TransferMix, read_topic_stance, transfer_pairs


def test_shipped_files_read_with_their_licences():
    for name, file in TOPIC_FILES.items():
        rows = read_topic_stance(TRANSFER_DIR / file)
        assert rows and {r["label"] for r in rows} == {"critical", "favorable"}, name
        assert {r["split"] for r in rows} == {"train"}, name  # dev/test splits stay unseen
    licences = sorted(p.name for p in TRANSFER_DIR.glob("LICENSE-*"))
    assert len(licences) == 3 and (TRANSFER_DIR / "README.md").is_file()
    # Perspectrum's test claim about negotiating with the Taliban must never be trained on.
    assert not any("Taliban" in r["target"] for r in read_topic_stance(TRANSFER_DIR / TOPIC_FILES["perspectrum"]))


def test_mix_draws_what_it_says_and_is_deterministic():
    mix = TransferMix(newsmtsc=40, topic=60, unrelated=10, engagement_proxy=False, seed=3)
    X, y, provenance = transfer_pairs(mix)
    assert len(X) == len(y) == 110
    assert sum(provenance["drawn"]["newsmtsc"].values()) == 40
    assert sum(sum(provenance["drawn"][n].values()) for n in TOPIC_FILES) == 60
    unrelated = X[100:]
    assert all(y_ == "neutral" for y_ in y[100:])
    originals = {(x.text, x.target) for x in X[40:100]}
    assert not any((x.text, x.target) in originals for x in unrelated)  # paired with another motion
    again, y_again, _ = transfer_pairs(mix)
    assert [(x.text, x.target) for x in again] == [(x.text, x.target) for x in X] and y_again == y
    other, _, _ = transfer_pairs(TransferMix(newsmtsc=40, topic=60, unrelated=10, engagement_proxy=False, seed=4))
    assert [x.text for x in other] != [x.text for x in X]


def test_bad_mixes_and_bad_lines_are_named(tmp_path):
    with pytest.raises(ValueError, match="unrelated"):
        TransferMix(topic=5, unrelated=6)
    with pytest.raises(ValueError, match="topic_shares"):
        TransferMix(topic_shares=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="newsmtsc"):
        TransferMix(newsmtsc=-1)
    bad = tmp_path / "t.jsonl"
    bad.write_text(json.dumps({"sentence": "x", "target": "We should y", "label": "favorable"}) + "\n"
                   + json.dumps({"sentence": "x", "target": "We should y", "label": "pro"}) + "\n", encoding="utf-8")
    with pytest.raises(TransferDataError, match=r"t\.jsonl:2: label 'pro'"):
        read_topic_stance(bad)
    bad.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(TransferDataError, match=r"t\.jsonl:1: not valid JSON"):
        read_topic_stance(bad)
    with pytest.raises(TransferDataError, match="not found"):
        transfer_pairs(TransferMix(newsmtsc=1, topic=0, unrelated=0), folder=tmp_path)


def test_engagement_proxy_rows_map_polarity_onto_engagement():
    from models.transfer import ENGAGEMENT_MOTIONS

    X, y, provenance = transfer_pairs(TransferMix(newsmtsc=0, topic=0, unrelated=0))
    assert X and all(x.target == "engagement" for x in X)
    assert provenance["drawn"]["engagement_proxy"] == dict(zip(*__import__("numpy").unique(y, return_counts=True)))
    source = {}
    for file in TOPIC_FILES.values():
        for row in read_topic_stance(TRANSFER_DIR / file):
            if row["target"] in ENGAGEMENT_MOTIONS:
                source.setdefault(row["sentence"], (row["target"], row["label"]))
    flip = {"favorable": "critical", "critical": "favorable"}
    for x, label in zip(X, y):
        motion, original = source[x.text]
        assert label == (original if ENGAGEMENT_MOTIONS[motion] > 0 else flip[original]), (motion, x.text)
