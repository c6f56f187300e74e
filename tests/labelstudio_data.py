"""Sentences for the Label Studio tests: real seed sentences (seeds/000) with hand-marked mentions."""

from __future__ import annotations

from annotate.schema import Mention, PredictionRecord, SentenceRecord

ARTICLE = "000_594f207f9f4d21fb"
_TEXTS = [
    "The U.S. is arguably the foremost country that can negotiate a deal between Pakistan and the Taliban despite their tragic withdrawal in 2021.",
    "Washington still prefers the sidelines in the conflict, but their warming relations with Pakistan could bring it back to the driver's seat.",
    "Pakistan accuses Kabul of harboring the Tehreek-i-Taliban Pakistan (TTP), or the Pakistani Taliban, which carries out attacks in the Pashtun-majority Northwestern Pakistan.",
    "In October 2025, Pakistan carried out airstrikes against the TTP in Afghanistan, including Kabul.",
    "A ceasefire was negotiated between the two sides by Türkiye and Qatar.",
]
_MENTIONS = [
    [("united_states", "The U.S."), ("pakistan", "Pakistan"), ("afghan_taliban", "the Taliban")],
    [("united_states", "Washington"), ("pakistan", "Pakistan")],
    [("pakistan", "Pakistan"), ("afghan_taliban", "Kabul"), ("ttp", "Tehreek-i-Taliban Pakistan"), ("ttp", "TTP"),
     ("ttp", "the Pakistani Taliban")],
    [("pakistan", "Pakistan"), ("ttp", "TTP"), ("afghan_taliban", "Kabul")],
    [("turkiye", "Türkiye"), ("qatar", "Qatar")],
]


def seed_sentences(n: int | None = None, *, prefix: str = "") -> list[SentenceRecord]:
    """The first ``n`` test sentences; ``prefix`` makes the ids unique per test when needed."""
    records = []
    for index, (text, mentions) in enumerate(zip(_TEXTS, _MENTIONS)):
        found, cursor = [], {}
        for actor, surface in mentions:
            start = text.index(surface, cursor.get(surface, 0))
            cursor[surface] = start + 1
            found.append(Mention(actor=actor, text=surface, start=start, end=start + len(surface)))
        found.sort(key=lambda m: m.start)
        records.append(SentenceRecord(
            sentence_id=f"{prefix}{ARTICLE}-{index}", article_id=ARTICLE, index=index, text=text, start=0, end=len(text),
            context_before=_TEXTS[index - 1] if index else "", context_after=_TEXTS[index + 1] if index + 1 < len(_TEXTS) else "",
            mentions=found, title="Can the U.S. broker peace between Pakistan and the Taliban?", source="Test Outlet",
        ))
    return records[:n] if n is not None else records


def predictions_for(sentences: list[SentenceRecord], model_version: str, label: str = "critical") -> list[PredictionRecord]:
    """One prediction per (sentence, target) with made-up probabilities (test data, not a model)."""
    probabilities = {"critical": 0.2, "neutral": 0.2, "favorable": 0.2}
    probabilities[label] = 0.6
    return [PredictionRecord(sentence_id=s.sentence_id, article_id=s.article_id, target=t, label=label,
                             probabilities=dict(probabilities), model_version=model_version)
            for s in sentences for t in [*s.actors(), "engagement"]]
