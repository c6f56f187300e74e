"""Adjudication rules, tie policies, review tasks for Label Studio and merging reviews back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate.adjudication import (
    TIE_POLICIES,
    AdjudicatedLabel,
    adjudicate,
    merge_reviews,
    read_adjudicated,
    review_tasks,
    write_adjudicated,
    write_review_tasks,
)
from annotate.labels import ENGAGEMENT_TARGET, load_label_set
from annotate.labelstudio.tasks import TASK_DATA_KEYS, parse_result
from annotate.schema import Mention, SentenceRecord
from tests.annotation_fixtures import (
    CRITICAL,
    FAVORABLE,
    NEUTRAL,
    REVIEWER,
    A,
    B,
    C,
    five_article_export,
    record,
)

ART = "fixture-article-0"


def _by_item(labels: list[AdjudicatedLabel]) -> dict[tuple[str, str], AdjudicatedLabel]:
    return {(l.sentence_id, l.target): l for l in labels}


def test_rules_on_a_multi_annotator_export() -> None:
    labels = _by_item(adjudicate(five_article_export()))
    assert len(labels) == 5 * 9  # every item somebody voted on
    s = lambda i: f"{ART}/s{i}"
    unanimous = labels[(s(0), "pakistan")]
    assert (unanimous.label, unanimous.resolved_by, unanimous.agreement, unanimous.n_annotators) == (CRITICAL, "unanimous", 1.0, 3)
    majority = labels[(s(0), ENGAGEMENT_TARGET)]
    assert (majority.label, majority.resolved_by) == (FAVORABLE, "majority")
    assert majority.agreement == pytest.approx(2 / 3)
    assert majority.votes == {A: FAVORABLE, B: FAVORABLE, C: NEUTRAL}
    tie = labels[(s(1), "pakistan")]
    assert (tie.label, tie.resolved_by, tie.off_target, tie.unresolved) == (None, "tie", False, True)
    off = labels[(s(1), "afghan_taliban")]
    assert (off.label, off.off_target, off.resolved_by) == (None, True, "majority")
    assert off.votes[A] is None and off.votes[C] == CRITICAL
    skipped = labels[(s(2), "pakistan")]  # C skipped: a 1-1 tie between A and B
    assert skipped.n_annotators == 2 and C not in skipped.votes and skipped.unresolved
    cancelled = labels[(s(2), ENGAGEMENT_TARGET)]
    assert (cancelled.label, cancelled.resolved_by, cancelled.n_annotators) == (NEUTRAL, "unanimous", 2)
    truth = labels[(s(3), "pakistan")]  # two favorable votes, C's ground truth says critical
    assert (truth.label, truth.resolved_by) == (CRITICAL, "ground_truth")
    assert truth.agreement == pytest.approx(1 / 3)
    revised = labels[(s(3), ENGAGEMENT_TARGET)]  # A changed critical -> favorable; the latest counts
    assert (revised.label, revised.resolved_by, revised.votes[A]) == (FAVORABLE, "unanimous", FAVORABLE)
    assert unanimous.text and unanimous.mentions and unanimous.mentions[0].text == "Pakistan"


@pytest.mark.parametrize("policy, three_way, two_way", [
    ("unresolved", None, None),
    ("neutral", NEUTRAL, NEUTRAL),
    ("first", CRITICAL, CRITICAL),  # A voted first in both ties
    ("median", NEUTRAL, NEUTRAL),  # critical vs favorable -> the middle class
])
def test_tie_policies(policy: str, three_way: str | None, two_way: str | None) -> None:
    labels = _by_item(adjudicate(five_article_export(), tie_policy=policy))
    for key, expected in (((f"{ART}/s1", "pakistan"), three_way), ((f"{ART}/s2", "pakistan"), two_way)):
        assert labels[key].label == expected and labels[key].resolved_by == "tie"
    # A policy never overrides a clear majority or ground truth.
    assert labels[(f"{ART}/s3", "pakistan")].label == CRITICAL


def test_median_policy_on_adjacent_tie_and_unknown_policy() -> None:
    records = [record("m/s0", "pakistan", A, NEUTRAL), record("m/s0", "pakistan", B, FAVORABLE)]
    assert adjudicate(records, tie_policy="median")[0].label == NEUTRAL  # the neighbour nearer the centre
    # Symmetric: a neighbouring tie at the other end also goes to the centre, not to the lower class.
    other_end = [record("m/s1", "pakistan", A, CRITICAL), record("m/s1", "pakistan", B, NEUTRAL)]
    assert adjudicate(other_end, tie_policy="median")[0].label == NEUTRAL
    assert adjudicate(records, tie_policy="first")[0].label == NEUTRAL
    with pytest.raises(ValueError) as info:
        adjudicate(records, tie_policy="coin-flip")
    for name in TIE_POLICIES:
        assert name in str(info.value)


def test_a_later_blank_answer_withdraws_the_earlier_vote_as_agreement_does() -> None:
    from annotate.agreement import collect_labels

    records = [record("w/s0", "pakistan", A, CRITICAL), record("w/s0", "pakistan", B, FAVORABLE),
               record("w/s0", "pakistan", A, None)]  # A submits the item again, blank
    (label,) = adjudicate(records)
    assert label.votes == {B: FAVORABLE} and (label.label, label.resolved_by) == (FAVORABLE, "unanimous")
    labels, excluded = collect_labels(records)
    assert set(labels[("w/s0", "pakistan")]) == {B} and excluded["blank"] == 1


def test_latest_is_decided_by_instant_not_by_timestamp_text() -> None:
    """10:00+02:00 is 08:00 UTC: earlier than 09:00Z although its text sorts later."""
    from dataclasses import replace

    from annotate.agreement import collect_labels

    earlier = replace(record("z/s0", "pakistan", A, CRITICAL), created_at="2026-03-01T10:00:00+02:00", annotation_id=9)
    later = replace(record("z/s0", "pakistan", A, FAVORABLE), created_at="2026-03-01T09:00:00Z", annotation_id=1)
    other = record("z/s0", "pakistan", B, FAVORABLE)
    for records in ([earlier, later, other], [later, earlier, other]):
        (label,) = adjudicate(records)
        assert label.votes == {A: FAVORABLE, B: FAVORABLE}
        labels, _ = collect_labels(records)
        assert labels[("z/s0", "pakistan")][A] == labels[("z/s0", "pakistan")][B]
    # No offset counts as UTC; an unreadable or missing time sorts before any real one.
    naive = replace(earlier, created_at="2026-03-01T09:30:00", label=CRITICAL)
    assert later.recency() < naive.recency()
    assert replace(later, created_at="yesterday").recency() < earlier.recency()
    assert replace(later, created_at=None, updated_at=None).recency() < earlier.recency()


def test_ground_truth_wins_even_when_its_annotator_answers_again() -> None:
    records = [record("t/s0", "pakistan", C, FAVORABLE, ground_truth=True),
               record("t/s0", "pakistan", C, CRITICAL), record("t/s0", "pakistan", B, CRITICAL)]
    (label,) = adjudicate(records)
    assert (label.label, label.resolved_by) == (FAVORABLE, "ground_truth")
    # ... and when that later answer is blank, leaving no other vote.
    only = adjudicate([record("t/s1", "pakistan", C, NEUTRAL, ground_truth=True), record("t/s1", "pakistan", C, None)])
    assert [(l.label, l.resolved_by) for l in only] == [(NEUTRAL, "ground_truth")]


def test_items_without_votes_are_left_out_and_ground_truth_off_target() -> None:
    records = [record("g/s0", "pakistan", A, None, status="skipped"),
               record("g/s1", "pakistan", A, CRITICAL), record("g/s1", "pakistan", B, CRITICAL),
               record("g/s1", "pakistan", C, None, off_target=True, ground_truth=True),
               record("g/s2", "pakistan", A, "furious")]  # not a stance class: vote ignored, logged
    labels = _by_item(adjudicate(records))
    assert set(labels) == {("g/s1", "pakistan")}
    gt = labels[("g/s1", "pakistan")]
    assert gt.off_target and gt.label is None and gt.resolved_by == "ground_truth"


def test_adjudicated_jsonl_round_trip(tmp_path: Path) -> None:
    labels = adjudicate(five_article_export())
    path = write_adjudicated(labels, tmp_path / "out" / "adjudicated.jsonl")
    assert read_adjudicated(path) == labels
    path.write_text(path.read_text() + "{oops\n")
    with pytest.raises(ValueError, match=r"adjudicated.jsonl:46:"):
        read_adjudicated(path)


def test_review_tasks_are_label_studio_tasks_with_each_annotator_as_a_prediction(tmp_path: Path) -> None:
    labels = adjudicate(five_article_export())
    sentence = SentenceRecord(sentence_id=f"{ART}/s1", article_id=ART, index=1, text=labels[0].text,
                              start=0, end=10, context_before="Before.", context_after="After.",
                              mentions=[Mention("pakistan", "Pakistan", 0, 8)], title="Fixture title",
                              source="Fixture Outlet")
    out = tmp_path / "review.json"
    n = write_review_tasks(labels, out, sentences=[sentence], actor_names={"pakistan": "Pakistan"})
    tasks = json.loads(out.read_text())
    assert n == len(tasks) == 10  # s1 and s2 of each article hold an unresolved tie
    label_set = load_label_set()
    for task in tasks:
        assert tuple(task["data"]) == TASK_DATA_KEYS
        assert [a["actor"] for a in task["data"]["actors"]] == ["pakistan"]  # only the disputed target
        versions = [p["model_version"] for p in task["predictions"]]
        assert len(versions) == len(set(versions)) and set(versions) <= {A, B, C}
        for prediction in task["predictions"]:  # the pull side parses each annotator's answer back
            parsed = parse_result(prediction["result"], task["data"], labels=label_set)
            original = next(l for l in labels if l.sentence_id == task["data"]["sentence_id"] and l.target == "pakistan")
            assert parsed["pakistan"] == (original.votes[prediction["model_version"]], False)
    with_sentence = next(t for t in tasks if t["data"]["sentence_id"] == f"{ART}/s1")
    assert with_sentence["data"]["title"] == "Fixture title" and with_sentence["data"]["index"] == 1
    assert with_sentence["data"]["actors"][0]["name"] == "Pakistan"
    assert with_sentence["data"]["actors"][0]["spans"] == [[0, 8]]

    # "disagreements" also sends settled-but-contested items (majority, off-target majority).
    everything = review_tasks(labels, scope="disagreements", actor_names={})
    by_sentence = {t["data"]["sentence_id"]: t for t in everything}
    assert len(everything) == 15  # s0 (engagement 2-1), s1, s2 per article; s3: ground truth / unanimous after revision
    s1 = by_sentence[f"{ART}/s1"]
    assert [a["actor"] for a in s1["data"]["actors"]] == ["pakistan", "afghan_taliban"]
    a_answer = next(p for p in s1["predictions"] if p["model_version"] == A)
    assert parse_result(a_answer["result"], s1["data"], labels=label_set)["afghan_taliban"] == (None, True)
    s0 = by_sentence[f"{ART}/s0"]
    assert s0["data"]["actors"] == []  # only engagement disputed
    c_answer = next(p for p in s0["predictions"] if p["model_version"] == C)
    assert parse_result(c_answer["result"], s0["data"], labels=label_set)[ENGAGEMENT_TARGET] == (NEUTRAL, False)
    with pytest.raises(ValueError, match="valid scopes"):
        review_tasks(labels, scope="all")


def test_merge_reviews_settles_ties() -> None:
    labels = adjudicate(five_article_export())
    reviews = [
        record(f"{ART}/s1", "pakistan", REVIEWER, NEUTRAL),
        record(f"{ART}/s2", "pakistan", REVIEWER, None, off_target=True),
        record(f"{ART}/s0", "pakistan", REVIEWER, None, status="skipped"),  # changes nothing
        record("unknown/s9", "pakistan", REVIEWER, CRITICAL),  # not adjudicated: ignored
    ]
    merged = _by_item(merge_reviews(labels, reviews))
    settled = merged[(f"{ART}/s1", "pakistan")]
    assert (settled.label, settled.resolved_by, settled.reviewer) == (NEUTRAL, "reviewer", REVIEWER)
    assert settled.agreement == pytest.approx(1 / 3) and REVIEWER not in settled.votes
    dropped = merged[(f"{ART}/s2", "pakistan")]
    assert dropped.off_target and dropped.label is None and dropped.resolved_by == "reviewer"
    assert merged[(f"{ART}/s0", "pakistan")].resolved_by == "unanimous"
    assert sum(l.unresolved for l in merged.values()) == sum(l.unresolved for l in labels) - 2
    # The input list is untouched.
    assert _by_item(labels)[(f"{ART}/s1", "pakistan")].label is None
