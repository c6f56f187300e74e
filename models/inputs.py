"""What a stance model reads: one (sentence, target) pair, and how the target is marked.

Both classifiers take a list of :class:`StanceInput`. The transformer reads a sentence
pair: the sentence with every target mention wrapped in markers, and a short description
of the target as the second segment (so the model knows *which* actor the stance is
about even when the sentence names several). The baseline reads the same marked text.

Conversions from a dataset row (``annotate.dataset_features``) and from a
:class:`annotate.schema.SentenceRecord` live here too, so training and prediction build
identical inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from annotate.labels import ENGAGEMENT_TARGET
from annotate.schema import SentenceRecord

#: Markers wrapped around each target mention. Plain characters the base vocabulary
#: already has, so no embedding starts untrained.
MARK_START = "<t>"
MARK_END = "</t>"

#: Second segment for the sentence-level engagement target (it has no mention spans), as
#: models saved before the motion phrasing read it (and the baseline still does).
ENGAGEMENT_DESCRIPTION = "engagement: dialogue and negotiation, as opposed to force or isolation"
#: Engagement phrased as a debate motion, the shape of the topic-stance transfer data's
#: targets ("We should end the use of economic sanctions"): a sentence against talks then
#: reads as critical of the motion, as topic stance taught (``models.transfer``).
ENGAGEMENT_MOTION = ("We should settle the conflict through dialogue and negotiation rather than force, "
                     "pressure or isolation.")
#: ``TrainingArguments.engagement_phrasing`` -> the engagement target's second segment.
ENGAGEMENT_PHRASINGS = {"motion": ENGAGEMENT_MOTION, "description": ENGAGEMENT_DESCRIPTION}


@dataclass(frozen=True)
class StanceInput:
    """One sentence-target pair.

    Attributes:
        text: the sentence.
        target: actor id, ``"engagement"``, or (NewsMTSC) the target mention itself.
        target_text: how the target appears in the sentence (its first mention).
        spans: ``(start, end)`` character offsets of the target's mentions in ``text``;
            empty for engagement.
        sentence_id / article_id: provenance, carried through to predictions.
    """

    text: str
    target: str
    target_text: str = ""
    spans: tuple[tuple[int, int], ...] = ()
    sentence_id: str = ""
    article_id: str = ""


def mark_target(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Wrap each span of ``text`` in :data:`MARK_START` / :data:`MARK_END`.

    Spans are character offsets; overlapping or out-of-range spans are dropped (an
    overlap would nest markers), so the result is always well formed.
    """
    clean: list[tuple[int, int]] = []
    for start, end in sorted({(int(s), int(e)) for s, e in spans}):
        if not 0 <= start < end <= len(text):
            continue
        if clean and start < clean[-1][1]:
            continue
        clean.append((start, end))
    pieces, cursor = [], 0
    for start, end in clean:
        pieces += [text[cursor:start], MARK_START, " ", text[start:end], " ", MARK_END]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def describe_target(item: StanceInput, *, engagement: str = ENGAGEMENT_DESCRIPTION) -> str:
    """The second segment: what the stance is about (``engagement``: the text that stands for
    the engagement target, see :data:`ENGAGEMENT_PHRASINGS`)."""
    if item.target == ENGAGEMENT_TARGET:
        return engagement
    name = item.target.replace("_", " ").strip()
    surface = item.target_text.strip()
    if not surface or surface.lower() == name.lower():
        return name or surface
    # Actor id plus its surface form: "pakistan (Islamabad)" tells a metonym's referent.
    return f"{name} ({surface})"


def text_pair(item: StanceInput, *, engagement: str = ENGAGEMENT_DESCRIPTION) -> tuple[str, str]:
    """``(marked sentence, target description)``: the transformer's two segments."""
    return mark_target(item.text, item.spans), describe_target(item, engagement=engagement)


def from_row(row: Mapping[str, Any]) -> StanceInput:
    """A :class:`StanceInput` from one row of a Slant stance dataset."""
    starts = row.get("mention_start") or []
    ends = row.get("mention_end") or []
    if len(starts) != len(ends):
        raise ValueError(
            f"row {row.get('sentence_id', '?')!r}/{row.get('target', '?')!r}: "
            f"{len(starts)} mention_start but {len(ends)} mention_end values"
        )
    return StanceInput(
        text=row["text"],
        target=row["target"],
        target_text=row.get("target_text") or "",
        spans=tuple(zip((int(s) for s in starts), (int(e) for e in ends))),
        sentence_id=row.get("sentence_id") or "",
        article_id=row.get("article_id") or "",
    )


def from_dataset(split: Any) -> tuple[list[StanceInput], list[str]]:
    """Inputs and label names from a dataset split (a ``datasets.Dataset``).

    Labels are returned as names read through the split's ``ClassLabel`` feature, so a
    dataset whose label order differs from the model's still maps correctly.

    Raises:
        ValueError: a row without a label (``-1``, the ``datasets`` convention) or with an
            index outside the ``ClassLabel`` names; the message names the row.
    """
    names = split.features["label"].names
    inputs = [from_row(row) for row in split]
    indices = split["label"]
    for row, index in enumerate(indices):
        if not 0 <= index < len(names):  # -1 would silently read as the last class
            what = "has no label (-1)" if index == -1 else f"has label index {index}, not one of 0..{len(names) - 1}"
            sentence = inputs[row].sentence_id or "?"
            raise ValueError(f"row {row} (sentence {sentence}, target {inputs[row].target}) {what} ({names})")
    return inputs, [names[i] for i in indices]


def from_sentence(record: SentenceRecord) -> list[StanceInput]:
    """One pair per distinct actor the sentence mentions, then one for engagement."""
    items: list[StanceInput] = []
    for actor in record.actors():
        mentions = [m for m in record.mentions if m.actor == actor]
        items.append(
            StanceInput(
                text=record.text,
                target=actor,
                target_text=mentions[0].text,
                spans=tuple((m.start, m.end) for m in mentions),
                sentence_id=record.sentence_id,
                article_id=record.article_id,
            )
        )
    items.append(
        StanceInput(
            text=record.text,
            target=ENGAGEMENT_TARGET,
            target_text=ENGAGEMENT_TARGET,
            sentence_id=record.sentence_id,
            article_id=record.article_id,
        )
    )
    return items
