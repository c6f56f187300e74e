"""Target marking and the conversions from dataset rows and sentence records."""

from __future__ import annotations

import pytest

from annotate.labels import ENGAGEMENT_TARGET
from annotate.schema import Mention, SentenceRecord
from models.inputs import (
    ENGAGEMENT_DESCRIPTION,
    MARK_END,
    MARK_START,
    StanceInput,
    from_dataset,
    from_row,
    from_sentence,
    mark_target,
    text_pair,
)


def test_mark_target_wraps_every_span_and_drops_bad_ones():
    text = "Islamabad and Pakistan agree."
    marked = mark_target(text, [(14, 22), (0, 9), (5, 12), (40, 50)])  # overlap and out-of-range dropped
    assert marked == f"{MARK_START} Islamabad {MARK_END} and {MARK_START} Pakistan {MARK_END} agree."
    assert mark_target(text, []) == text


def test_text_pair_names_the_target():
    item = StanceInput(text="Islamabad said no.", target="pakistan", target_text="Islamabad", spans=((0, 9),))
    first, second = text_pair(item)
    assert first.startswith(MARK_START) and second == "pakistan (Islamabad)"
    eng = StanceInput(text="Talks resumed.", target=ENGAGEMENT_TARGET, target_text=ENGAGEMENT_TARGET)
    assert text_pair(eng) == ("Talks resumed.", ENGAGEMENT_DESCRIPTION)


def test_from_sentence_one_pair_per_actor_plus_engagement():
    record = SentenceRecord(
        sentence_id="s1", article_id="a1", index=0, text="Washington and Islamabad met; Pakistan agreed.",
        start=0, end=46,
        mentions=[Mention("united_states", "Washington", 0, 10), Mention("pakistan", "Islamabad", 15, 24),
                  Mention("pakistan", "Pakistan", 30, 38)],
    )
    items = from_sentence(record)
    assert [i.target for i in items] == ["united_states", "pakistan", ENGAGEMENT_TARGET]
    assert items[1].spans == ((15, 24), (30, 38)) and items[1].target_text == "Islamabad"
    assert items[2].spans == () and all(i.sentence_id == "s1" and i.article_id == "a1" for i in items)


def test_from_row_rejects_mismatched_spans():
    row = {"text": "x", "target": "t", "target_text": "t", "mention_start": [0, 1], "mention_end": [1],
           "sentence_id": "s9"}
    with pytest.raises(ValueError, match="s9"):
        from_row(row)


def test_from_dataset_refuses_rows_without_a_label():
    from models.testing import toy_dataset

    test = toy_dataset()["test"]
    _, labels = from_dataset(test)
    assert len(labels) == len(test)
    unlabelled = test.map(lambda row, i: {"label": -1 if i == 2 else row["label"]}, with_indices=True)
    with pytest.raises(ValueError, match=r"row 2 \(sentence .+\) has no label \(-1\)"):
        from_dataset(unlabelled)
