"""TEST FIXTURES for the report tests (no tests here): real seed sentences, hand-chosen numbers.

The sentences are copied from the seed articles; their mention offsets are found by
searching the surface forms in the text. The *probabilities*, the *human labels*, the
*annotator names* and the *source names* are invented for the tests ("fixture-..."): they
are not model output, not anyone's annotation and not the articles' real outlets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from annotate.labels import ENGAGEMENT_TARGET, load_label_set
from annotate.schema import AnnotationRecord, Mention, PredictionRecord, SentenceRecord

CRITICAL, NEUTRAL, FAVORABLE = load_label_set().stance
MODEL_VERSION = "fixture-model-0"

# article id -> (fixture source, [(sentence text, [(actor, surface form), ...]), ...])
ARTICLES: dict[str, tuple[str, list[tuple[str, list[tuple[str, str]]]]]] = {
    "000_594f207f9f4d21fb": ("fixture-outlet-1", [
        ("Pakistan accuses Kabul of harboring the Tehreek-i-Taliban Pakistan (TTP), or the Pakistani Taliban, "
         "which carries out attacks in the Pashtun-majority Northwestern Pakistan.",
         [("pakistan", "Pakistan"), ("afghan_taliban", "Kabul"), ("ttp", "Tehreek-i-Taliban Pakistan"),
          ("ttp", "TTP"), ("ttp", "Pakistani Taliban")]),
        ("Diplomacy is the only viable solution at hand, and only China and the United States have enough "
         "leverage to push a deal.", [("china", "China"), ("united_states", "United States")]),
        ("Pakistan is also an important partner in counterterrorism for the U.S.",
         [("pakistan", "Pakistan"), ("united_states", "U.S.")]),
        ("Working together with the Taliban is hard to sell to the public, as freedoms, and especially women’s "
         "rights, have been completely crushed by the Taliban.", [("afghan_taliban", "Taliban")]),
        ("Washington is also accusing the Taliban of violating its counterterrorism obligations and harboring "
         "terrorism-affiliated groups, including Al-Qaeda and Islamic State-Khorasan Province (ISKP).",
         [("united_states", "Washington"), ("afghan_taliban", "Taliban"), ("al_qaeda", "Al-Qaeda"),
          ("isis_k", "Islamic State-Khorasan Province")]),
        ("Pakistan needs closer relations with the U.S. for military and economic support.",
         [("pakistan", "Pakistan"), ("united_states", "U.S.")]),
        ("The Taliban can strike a deal with the U.S. to break through its international isolation.",
         [("afghan_taliban", "Taliban"), ("united_states", "U.S.")]),
    ]),
    "003_480c0d6243ab4fe2": ("fixture-outlet-2", [
        ("Zalmay Khalilzad, former US Special Representative for Afghanistan under President Donald Trump, said "
         "Pakistan should prioritize dialogue with the Afghan Taliban.",
         [("united_states", "US"), ("pakistan", "Pakistan"), ("afghan_taliban", "Afghan Taliban")]),
        ("“This approach will never bring peace. It will only intensify terrorism,” Khan said.", []),
        ("Earlier this week, Prime Minister Shehbaz Sharif and Army Chief Gen. Asim Munir issued a stern warning "
         "to Kabul from Bannu: “Choose between Pakistan and TTP.”",
         [("afghan_taliban", "Kabul"), ("pakistan", "Pakistan"), ("ttp", "TTP")]),
        ("Islamabad is pressuring Kabul to act against the TTP, but Khalilzad’s message suggests Washington sees "
         "dialogue—not confrontation—as the more sustainable path.",
         [("pakistan", "Islamabad"), ("afghan_taliban", "Kabul"), ("ttp", "TTP"), ("united_states", "Washington")]),
    ]),
    "004_a8dd27559ae93e0a": ("fixture-outlet-2", [
        ("On the social front, the Taliban’s restrictive measures on women—banning secondary and higher education "
         "and limiting their participation in various sectors—have drawn widespread international criticism.",
         [("afghan_taliban", "Taliban")]),
        ("While this dialogue represents a positive step toward a political settlement, its success hinges on "
         "both parties’ adherence to their commitments and Washington’s ability to persuade regional partners of "
         "its strategic value.", [("united_states", "Washington")]),
    ]),
}

# (article id, sentence index, target) -> (p(critical), p(neutral), p(favorable)); anything not
# listed is predicted (0.1, 0.8, 0.1), i.e. a mildly neutral model.
PROBABILITIES: dict[tuple[str, int, str], tuple[float, float, float]] = {
    ("000_594f207f9f4d21fb", 0, "afghan_taliban"): (0.7, 0.2, 0.1),
    ("000_594f207f9f4d21fb", 0, "ttp"): (0.8, 0.15, 0.05),
    ("000_594f207f9f4d21fb", 1, ENGAGEMENT_TARGET): (0.05, 0.15, 0.8),
    ("000_594f207f9f4d21fb", 1, "united_states"): (0.1, 0.3, 0.6),
    ("000_594f207f9f4d21fb", 2, "pakistan"): (0.05, 0.25, 0.7),
    ("000_594f207f9f4d21fb", 3, "afghan_taliban"): (0.9, 0.08, 0.02),
    ("000_594f207f9f4d21fb", 4, "afghan_taliban"): (0.75, 0.2, 0.05),
    ("000_594f207f9f4d21fb", 5, "pakistan"): (0.2, 0.6, 0.2),
    ("000_594f207f9f4d21fb", 6, ENGAGEMENT_TARGET): (0.1, 0.3, 0.6),
    ("000_594f207f9f4d21fb", 6, "afghan_taliban"): (0.2, 0.5, 0.3),
    ("003_480c0d6243ab4fe2", 0, ENGAGEMENT_TARGET): (0.05, 0.1, 0.85),
    ("003_480c0d6243ab4fe2", 1, ENGAGEMENT_TARGET): (0.1, 0.2, 0.7),
    ("003_480c0d6243ab4fe2", 2, "pakistan"): (0.1, 0.5, 0.4),
    ("003_480c0d6243ab4fe2", 2, "afghan_taliban"): (0.5, 0.4, 0.1),
    ("003_480c0d6243ab4fe2", 3, ENGAGEMENT_TARGET): (0.05, 0.15, 0.8),
    ("003_480c0d6243ab4fe2", 3, "afghan_taliban"): (0.4, 0.5, 0.1),
    ("004_a8dd27559ae93e0a", 0, "afghan_taliban"): (0.85, 0.1, 0.05),
    ("004_a8dd27559ae93e0a", 1, ENGAGEMENT_TARGET): (0.1, 0.2, 0.7),
}
DEFAULT_PROBABILITIES = (0.1, 0.8, 0.1)

# Hand-made "adjudicated" human labels for a few (article, index, target) pairs; None = off target.
HUMAN_LABELS: dict[tuple[str, int, str], str | None] = {
    ("000_594f207f9f4d21fb", 0, "afghan_taliban"): CRITICAL,
    ("000_594f207f9f4d21fb", 3, "afghan_taliban"): CRITICAL,
    ("000_594f207f9f4d21fb", 4, "afghan_taliban"): CRITICAL,
    ("000_594f207f9f4d21fb", 6, "afghan_taliban"): NEUTRAL,
    ("000_594f207f9f4d21fb", 0, "pakistan"): NEUTRAL,
    ("000_594f207f9f4d21fb", 2, "pakistan"): FAVORABLE,
    ("000_594f207f9f4d21fb", 5, "pakistan"): FAVORABLE,
    ("000_594f207f9f4d21fb", 1, ENGAGEMENT_TARGET): FAVORABLE,
    ("000_594f207f9f4d21fb", 6, ENGAGEMENT_TARGET): FAVORABLE,
    ("000_594f207f9f4d21fb", 2, ENGAGEMENT_TARGET): None,  # "not about engagement"
}


def sentence_id(article_id: str, index: int) -> str:
    return f"fx-{article_id[:3]}-{index}"


def task_id(article_id: str, index: int) -> int:
    """Fixture Label Studio task id: one task per sentence."""
    return int(article_id[:3]) * 100 + index + 1


def _mentions(text: str, pairs: list[tuple[str, str]]) -> list[Mention]:
    out, cursor = [], {}
    for actor, surface in pairs:
        start = text.find(surface, cursor.get(surface, 0))
        assert start >= 0, f"fixture surface {surface!r} not in {text!r}"
        cursor[surface] = start + len(surface)
        out.append(Mention(actor=actor, text=surface, start=start, end=start + len(surface)))
    return sorted(out, key=lambda m: m.start)


def make_sentences(articles=None) -> list[SentenceRecord]:
    records = []
    for article_id, (source, sentences) in (articles or ARTICLES).items():
        for index, (text, pairs) in enumerate(sentences):
            records.append(SentenceRecord(sentence_id=sentence_id(article_id, index), article_id=article_id,
                                          index=index, text=text, start=0, end=len(text),
                                          mentions=_mentions(text, pairs), title=f"Fixture title {article_id[:3]}",
                                          source=source))
    return records


def make_predictions(sentences: list[SentenceRecord], probabilities=None) -> list[PredictionRecord]:
    probabilities = PROBABILITIES if probabilities is None else probabilities
    out = []
    for s in sentences:
        for target in [*s.actors(), ENGAGEMENT_TARGET]:
            probs = probabilities.get((s.article_id, s.index, target), DEFAULT_PROBABILITIES)
            dist = dict(zip(load_label_set().stance, probs))
            out.append(PredictionRecord(sentence_id=s.sentence_id, article_id=s.article_id, target=target,
                                        label=max(dist, key=dist.get), probabilities=dist,
                                        model_version=MODEL_VERSION))
    return out


@dataclass
class FixtureAdjudicated:
    """Same fields as the contract's ``annotate.adjudication.AdjudicatedLabel``."""

    sentence_id: str
    article_id: str
    target: str
    label: str | None
    off_target: bool
    n_annotators: int
    agreement: float
    votes: dict = field(default_factory=dict)
    resolved_by: str = "unanimous"
    task_id: int | None = None
    source: str = ""
    text: str = ""
    mentions: list = field(default_factory=list)


def make_adjudicated(labels=None) -> list[FixtureAdjudicated]:
    out = []
    for (article_id, index, target), label in (labels or HUMAN_LABELS).items():
        out.append(FixtureAdjudicated(sentence_id=sentence_id(article_id, index), article_id=article_id,
                                      target=target, label=label, off_target=label is None, n_annotators=1,
                                      agreement=1.0, votes={"fixture-annotator-1": label},
                                      task_id=task_id(article_id, index)))
    return out


def make_annotations(labels=None, *, annotators=("fixture-annotator-1@example.org",
                                                 "fixture-annotator-2@example.org")) -> list[AnnotationRecord]:
    """Two fixture annotators who agree on every label (for the real adjudication module)."""
    out = []
    for (article_id, index, target), label in (labels or HUMAN_LABELS).items():
        for annotator in annotators:
            out.append(AnnotationRecord(task_id=task_id(article_id, index), sentence_id=sentence_id(article_id, index),
                                        article_id=article_id, target=target, label=label, annotator=annotator,
                                        off_target=label is None))
    return out
