"""NewsMTSC loader: polarity mapping, one row per target, features, clear errors."""

from __future__ import annotations

import collections
import json
import math
from pathlib import Path

import pytest

from annotate.dataset_features import stance_features
from annotate.labels import load_label_set
from annotate.newsmtsc import NEWSMTSC_SPLITS, NewsMTSCError, article_id_from_gid, load_newsmtsc

# shared/ sits beside the checkout (as in CI); /work/shared is where developers have it.
SHARED = next((p for p in (Path(__file__).resolve().parents[2] / "shared" / "data" / "newsmtsc",
                           Path("/work/shared/data/newsmtsc")) if p.is_dir()),
              Path("/work/shared/data/newsmtsc"))
STANCE = load_label_set().stance


def _line(gid: str, text: str, targets: list[dict]) -> str:
    return json.dumps({"primary_gid": gid, "sentence_normalized": text, "targets": targets})


def _target(text: str, mention: str, polarity: float, **extra) -> dict:
    start = text.index(mention)
    return {"Input.gid": "x", "from": start, "to": start + len(mention), "mention": mention,
            "polarity": polarity, **extra}


@pytest.fixture()
def tiny_release(tmp_path: Path) -> Path:
    """A NewsMTSC-shaped folder: train, rw dev/test (mt missing on purpose)."""
    s1 = "Clinton blamed Facebook for her loss."
    s2 = "Northam praised the plan."
    train = [
        _line("allsides_1018_408_1_Clinton_0_7", s1, [
            _target(s1, "Clinton", 2.0, further_mentions=[{"from": s1.index("her"), "to": s1.index("her") + 3, "mention": "her"}]),
            _target(s1, "Facebook", 6.0),
        ]),
        "",  # blank lines are skipped
        _line("polusa_v1_113704059_-1_35_Northam_0_7", s2, [_target(s2, "Northam", 4.0)]),
    ]
    (tmp_path / "train.jsonl").write_text("\n".join(train) + "\n", encoding="utf-8")
    (tmp_path / "experiments-rw").mkdir()
    for split in ("dev", "test"):
        (tmp_path / "experiments-rw" / f"{split}.jsonl").write_text(train[2] + "\n", encoding="utf-8")
    return tmp_path


def test_rows_features_and_polarity_mapping(tiny_release: Path) -> None:
    dd = load_newsmtsc(tiny_release)
    assert list(dd) == ["train", "dev_rw", "test_rw"]  # only the files that exist
    train = dd["train"]
    assert train.features == stance_features()
    assert train.features["label"].names == list(STANCE)
    assert len(train) == 3  # one row per target
    rows = train.to_list()
    by_target = {r["target"]: r for r in rows}
    name = train.features["label"].int2str
    assert name(by_target["Clinton"]["label"]) == STANCE[0]  # 2.0 -> critical
    assert name(by_target["Northam"]["label"]) == STANCE[1]  # 4.0 -> neutral
    assert name(by_target["Facebook"]["label"]) == STANCE[2]  # 6.0 -> favorable
    clinton = by_target["Clinton"]
    assert clinton["article_id"] == "allsides_1018_408"
    assert by_target["Northam"]["article_id"] == "polusa_v1_113704059_-1"
    assert clinton["sentence_id"] == "allsides_1018_408_1_Clinton_0_7"
    assert clinton["source"] == "newsmtsc" and clinton["target_text"] == "Clinton"
    assert (clinton["mention_start"], clinton["mention_end"]) == ([0], [7])  # coreferences off by default
    assert clinton["n_annotators"] == 0 and math.isnan(clinton["agreement"])  # unknown, not invented


def test_further_mentions_opt_in(tiny_release: Path) -> None:
    train = load_newsmtsc(tiny_release / "train.jsonl", further_mentions=True)
    clinton = next(r for r in train.to_list() if r["target"] == "Clinton")
    her = clinton["text"].index("her")
    assert clinton["mention_start"] == [0, her] and clinton["mention_end"] == [7, her + 3]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        (_line("allsides_1_2_3_X_0_1", "X y.", []), "non-empty list"),
        (_line("allsides_1_2_3_X_0_1", "X y.", [{"from": 0, "to": 1, "mention": "X", "polarity": 5.0}]), "polarity"),
        (_line("allsides_1_2_3_X_0_1", "X y.", [{"from": 0, "to": 3, "mention": "X", "polarity": 2.0}]), "does not hold"),
        (_line("nogid", "X y.", [{"from": 0, "to": 1, "mention": "X", "polarity": 2.0}]), "gid"),
        (json.dumps({"primary_gid": "allsides_1_2_3_X_0_1", "targets": []}), "sentence_normalized"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    good = _line("allsides_1_2_3_X_0_1", "X y.", [{"from": 0, "to": 1, "mention": "X", "polarity": 2.0}])
    file = tmp_path / "train.jsonl"
    file.write_text(good + "\n" + good + "\n" + bad_line + "\n", encoding="utf-8")
    with pytest.raises(NewsMTSCError) as info:
        load_newsmtsc(file)
    assert f"{file}:3:" in str(info.value)
    assert message in str(info.value)


def test_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(NewsMTSCError, match="no such file"):
        load_newsmtsc(tmp_path / "nope")
    with pytest.raises(NewsMTSCError, match="none of the NewsMTSC files"):
        load_newsmtsc(tmp_path)


def test_article_id_from_gid() -> None:
    assert article_id_from_gid("allsides_1000_401_25_Reality Leigh Winner_0_6") == "allsides_1000_401"
    assert article_id_from_gid("polusa_v1_113706422_-1_8_Donald Trump's_18_32") == "polusa_v1_113706422_-1"
    with pytest.raises(ValueError):
        article_id_from_gid("Winner_0_6")


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared NewsMTSC release is not on this machine")
def test_real_release_counts_match_the_raw_polarities() -> None:
    """Every target of every published file becomes one row, with its polarity's class."""
    dd = load_newsmtsc(SHARED)
    assert set(dd) == set(NEWSMTSC_SPLITS)
    polarity_name = {2.0: STANCE[0], 4.0: STANCE[1], 6.0: STANCE[2]}
    for split, relative in NEWSMTSC_SPLITS.items():
        expected = collections.Counter()
        with open(SHARED / relative, encoding="utf-8") as handle:
            for line in handle:
                for target in json.loads(line)["targets"]:
                    expected[polarity_name[target["polarity"]]] += 1
        names = dd[split].features["label"].names
        got = collections.Counter(names[i] for i in dd[split]["label"])
        assert got == expected, split
        assert all(t[s:e] == m for t, s, e, m in zip(
            dd[split]["text"], (x[0] for x in dd[split]["mention_start"]),
            (x[0] for x in dd[split]["mention_end"]), dd[split]["target_text"]))
