"""Transfer data for the default stance model: shipped with Slant, read and mixed here.

The seeds teach the project's domain but hold five articles that all favor talks; trained on
them alone the model learns "talks are mentioned -> favorable" (``docs/benchmarks.md``,
unseen-article check set). Two kinds of public data teach what the seeds cannot:

* **NewsMTSC** (MIT): sentiment toward persons in political news, three classes;
* **topic stance** (CC BY-SA): a sentence's stance toward an issue stated in words (a debate
  motion such as "We should end the use of economic sanctions"), favorable/critical only:
  Perspectrum, IBM Debater ArgQ-Rank-30k and IBM Debater Claim Stance (train splits only).

Engagement is an issue target, so the model reads it as a motion in words
(:data:`models.inputs.ENGAGEMENT_MOTION`), in the same shape as the topic-stance targets.
Topic stance has no neutral class; neutrals come from NewsMTSC and the seeds, and from
*unrelated* pairs: a topic sentence paired with another motion says nothing about it.

The files live in ``models/transfer_data/`` with their licences and card (``README.md``).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from annotate.labels import ENGAGEMENT_TARGET, load_label_set
from models.inputs import StanceInput, from_row

TRANSFER_DIR = Path(__file__).resolve().parent / "transfer_data"
NEWSMTSC_FILE = "newsmtsc_train.jsonl"
TOPIC_FILES = {"perspectrum": "perspectrum.jsonl", "ibm_argq30k": "ibm_argq30k.jsonl",
               "ibm_claim_stance": "ibm_claim_stance.jsonl"}


#: Topic-stance motions that are themselves about engagement (talks, sanctions, embargoes) or its
#: opposite (military force as policy), with the direction of the mapping: +1, arguing *for* the
#: motion argues for engagement; -1, arguing for the motion argues for force or isolation. Their
#: rows are also read as stance toward the engagement target itself (``engagement_proxy``), so the
#: model sees that target argued both ways, which the seeds (all for talks) never show it.
ENGAGEMENT_MOTIONS: dict[str, int] = {
    "We should end the use of economic sanctions": +1,
    "We must negotiate with terrorists": +1,
    "The world should re-engage with Myanmar": +1,
    "The United States should maintain its embargo against Cuba": -1,
    "Targeted sanctions have to be used to respond to cyber-attacks": -1,
    "The United States should continue Its use of drone strikes abroad": -1,
    "Force has to be used to protect human rights abroad": -1,
    "The Western intervention in Libya has been a success": -1,
    "The War in Iraq was Worth the Cost": -1,
    "The US and its allies were justified in taking military action against Iraq following Iraq’s invasion of Kuwait": -1,
    "Israel's 2008-2009 military operations against Gaza were justified": -1,
    "This house believes that Israel's 2008-2009 military operations against Gaza were justified": -1,
}


class TransferDataError(ValueError):
    """A transfer data file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class TransferMix:
    """How many pairs of each kind the default model's training mix draws.

    Attributes:
        newsmtsc: NewsMTSC pairs (persons; critical / neutral / favorable).
        topic: topic-stance pairs, drawn from the three sets in proportion to ``topic_shares``.
        unrelated: topic sentences paired with another set's or topic's motion, labeled neutral.
        topic_shares: shares of perspectrum, ibm_argq30k and ibm_claim_stance in ``topic``.
        engagement_proxy: also read every row of the :data:`ENGAGEMENT_MOTIONS` as a stance
            toward the engagement target (polarity mapped), on top of ``topic``.
        seed: the sample's seed (the same seed draws the same pairs).
    """

    newsmtsc: int = 3000
    topic: int = 3000
    unrelated: int = 800
    topic_shares: tuple[float, float, float] = (0.45, 0.40, 0.15)
    engagement_proxy: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("newsmtsc", "topic", "unrelated", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.unrelated > self.topic:
            raise ValueError(f"unrelated ({self.unrelated}) cannot exceed topic ({self.topic}): "
                             "unrelated pairs reuse drawn topic sentences")
        shares = self.topic_shares
        if len(shares) != 3 or any(s < 0 for s in shares) or abs(sum(shares) - 1) > 1e-6:
            raise ValueError(f"topic_shares must be 3 non-negative numbers summing to 1, got {shares!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_topic_stance(path: str | Path) -> list[dict[str, str]]:
    """Rows ``{"sentence", "target", "label", "split", "source_id"}`` of a topic-stance file.

    Raises :class:`TransferDataError` naming ``path:line`` for a line that is not a JSON object
    with string ``sentence``/``target`` and a ``label`` among the stance labels.
    """
    from annotate.jsonl import iter_jsonl

    stance = set(load_label_set().stance)

    def parse(row: dict[str, Any]) -> dict[str, Any]:
        if not all(isinstance(row.get(k), str) and row.get(k).strip() for k in ("sentence", "target")):
            raise ValueError("needs non-empty string 'sentence' and 'target'")
        if row.get("label") not in stance:
            raise ValueError(f"label {row.get('label')!r} is not one of {sorted(stance)}")
        return row

    return [row for _, row in iter_jsonl(path, parse, error=TransferDataError)]


def topic_pair(sentence: str, motion: str) -> StanceInput:
    """A topic-stance pair: the motion is the target, described by its own words."""
    return StanceInput(text=sentence, target=motion, target_text=motion)


def transfer_pairs(mix: TransferMix, *, folder: str | Path = TRANSFER_DIR) -> tuple[list[StanceInput], list[str], dict]:
    """Draw the training mix: ``(pairs, labels, provenance)``; provenance counts what was drawn
    from which file, for the model card."""
    from annotate.newsmtsc import iter_newsmtsc_rows

    folder = Path(folder)
    rng = random.Random(mix.seed)
    X: list[StanceInput] = []
    y: list[str] = []
    provenance: dict[str, Any] = {"mix": mix.to_dict(), "folder": str(folder), "drawn": {}}

    if mix.newsmtsc:
        news_path = folder / NEWSMTSC_FILE
        if not news_path.is_file():
            raise TransferDataError(f"{news_path}: transfer data file not found")
        rows = list(iter_newsmtsc_rows(news_path))
        rng.shuffle(rows)
        rows = rows[:mix.newsmtsc]
        X += [from_row(r) for r in rows]
        y += [r["label"] for r in rows]
        provenance["drawn"]["newsmtsc"] = dict(Counter(r["label"] for r in rows))

    topic_rows: list[dict[str, str]] = []
    proxy_rows: list[dict[str, str]] = []
    if mix.topic or mix.engagement_proxy:
        wanted = [int(mix.topic * s) for s in mix.topic_shares]
        wanted[0] += mix.topic - sum(wanted)
        for (name, file), k in zip(TOPIC_FILES.items(), wanted):
            rows = read_topic_stance(folder / file)
            if mix.engagement_proxy:
                proxy_rows += [r for r in rows if r["target"] in ENGAGEMENT_MOTIONS]
            rng.shuffle(rows)
            topic_rows += rows[:k]
            provenance["drawn"][name] = dict(Counter(r["label"] for r in rows[:k]))
        rng.shuffle(topic_rows)
        X += [topic_pair(r["sentence"], r["target"]) for r in topic_rows]
        y += [r["label"] for r in topic_rows]

    if proxy_rows:
        stance = load_label_set().stance
        for row in proxy_rows:
            label = row["label"]
            if ENGAGEMENT_MOTIONS[row["target"]] < 0:  # for force or isolation = against engagement
                label = stance[len(stance) - 1 - stance.index(label)]
            X.append(StanceInput(text=row["sentence"], target=ENGAGEMENT_TARGET, target_text=ENGAGEMENT_TARGET))
            y.append(label)
        provenance["drawn"]["engagement_proxy"] = dict(Counter(y[-len(proxy_rows):]))

    if mix.unrelated:
        motions = sorted({r["target"] for r in topic_rows})
        if len(motions) < 2:
            raise TransferDataError(f"{folder}: unrelated pairs need at least two motions, found {len(motions)}")
        neutral = _neutral_label()
        for row in topic_rows[:mix.unrelated]:
            other = row["target"]
            while other == row["target"]:
                other = rng.choice(motions)
            X.append(topic_pair(row["sentence"], other))
            y.append(neutral)
        provenance["drawn"]["unrelated"] = {neutral: mix.unrelated}
    return X, y, provenance


def _neutral_label() -> str:
    stance = load_label_set().stance
    return stance[len(stance) // 2]  # the middle of the ordinal scale: critical < neutral < favorable


__all__ = ["ENGAGEMENT_MOTIONS", "TRANSFER_DIR", "TransferDataError", "TransferMix", "read_topic_stance", "topic_pair", "transfer_pairs"]
