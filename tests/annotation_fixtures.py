"""Multi-annotator annotation records built in code for the agreement/adjudication/dataset tests.

Everything here is a TEST FIXTURE: the annotators (``fixture-annotator-*@example.test``),
the reviewer, the articles (``fixture-article-*``) and the sentences are made up to exercise
disagreement, missing labels, skipped and cancelled tasks, off-target flags and ground truth.
They are not real people, outlets or labels and never appear in the shipped data.
"""

from __future__ import annotations

import itertools

from annotate.labels import ENGAGEMENT_TARGET, load_label_set
from annotate.schema import AnnotationRecord, Mention

STANCE = load_label_set().stance
CRITICAL, NEUTRAL, FAVORABLE = STANCE  # the ordinal order of label_config.xml
A, B, C = (f"fixture-annotator-{x}@example.test" for x in "abc")
REVIEWER = "fixture-reviewer@example.test"
SOURCE = "Fixture Outlet"

_clock = itertools.count()


def record(sentence: str, target: str, annotator: str, label: str | None, *, article: str | None = None,
           off_target: bool = False, status: str = "submitted", ground_truth: bool = False,
           task_id: int | None = None, text: str | None = None) -> AnnotationRecord:
    """One fixture record; timestamps increase with every call (so 'latest' is well defined)."""
    tick = next(_clock)
    article = article or sentence.split("/")[0]
    text = text if text is not None else f"Pakistan and the Taliban were discussed in {sentence}."
    mentions = []
    if target != ENGAGEMENT_TARGET:
        surface = "Pakistan" if target == "pakistan" else "the Taliban"
        start = text.find(surface)
        if start >= 0:
            mentions = [Mention(actor=target, text=surface, start=start, end=start + len(surface))]
    return AnnotationRecord(
        task_id=task_id if task_id is not None else abs(hash(sentence)) % 10_000,
        sentence_id=sentence, article_id=article, target=target,
        label=None if (off_target or status != "submitted") else label,
        annotator=annotator, annotation_id=tick, off_target=off_target, status=status,
        ground_truth=ground_truth, created_at=f"2026-01-01T00:{tick // 60:02d}:{tick % 60:02d}Z",
        text=text, source=SOURCE, mentions=mentions,
    )


def five_article_export() -> list[AnnotationRecord]:
    """Three fixture annotators over five fixture articles, with every kind of trouble.

    Per article 0..4, sentences s0..s3 and targets pakistan, afghan_taliban, engagement.
    Patterns (chosen so each adjudication rule and each agreement edge case occurs):
    unanimous, 2-vs-1 majority, three-way tie, 2-way tie (one annotator skipped), off-target
    majority, ground truth overruling a majority, a cancelled annotation, a missing label
    (an annotator never saw the task) and an annotator revising an answer.
    """
    records: list[AnnotationRecord] = []
    for art in range(5):
        article = f"fixture-article-{art}"
        s = [f"{article}/s{i}" for i in range(4)]
        # s0: unanimous on both actors; engagement majority 2-1
        for who in (A, B, C):
            records.append(record(s[0], "pakistan", who, CRITICAL, article=article))
            records.append(record(s[0], "afghan_taliban", who, NEUTRAL, article=article))
        records += [record(s[0], ENGAGEMENT_TARGET, A, FAVORABLE, article=article),
                    record(s[0], ENGAGEMENT_TARGET, B, FAVORABLE, article=article),
                    record(s[0], ENGAGEMENT_TARGET, C, NEUTRAL, article=article)]
        # s1: three-way tie on pakistan; off-target majority on afghan_taliban
        records += [record(s[1], "pakistan", A, CRITICAL, article=article),
                    record(s[1], "pakistan", B, NEUTRAL, article=article),
                    record(s[1], "pakistan", C, FAVORABLE, article=article),
                    record(s[1], "afghan_taliban", A, None, off_target=True, article=article),
                    record(s[1], "afghan_taliban", B, None, off_target=True, article=article),
                    record(s[1], "afghan_taliban", C, CRITICAL, article=article)]
        # s2: C skipped (2-way tie A vs B); engagement: C cancelled, A and B agree
        records += [record(s[2], "pakistan", A, CRITICAL, article=article),
                    record(s[2], "pakistan", B, FAVORABLE, article=article),
                    record(s[2], "pakistan", C, None, status="skipped", article=article),
                    record(s[2], ENGAGEMENT_TARGET, A, NEUTRAL, article=article),
                    record(s[2], ENGAGEMENT_TARGET, B, NEUTRAL, article=article),
                    record(s[2], ENGAGEMENT_TARGET, C, None, status="cancelled", article=article)]
        # s3: majority favorable overruled by C's ground truth; B never saw engagement (missing),
        #     A revised engagement from critical to favorable
        records += [record(s[3], "pakistan", A, FAVORABLE, article=article),
                    record(s[3], "pakistan", B, FAVORABLE, article=article),
                    record(s[3], "pakistan", C, CRITICAL, ground_truth=True, article=article),
                    record(s[3], ENGAGEMENT_TARGET, A, CRITICAL, article=article),
                    record(s[3], ENGAGEMENT_TARGET, C, FAVORABLE, article=article),
                    record(s[3], ENGAGEMENT_TARGET, A, FAVORABLE, article=article)]
    return records
