"""``predict()``: sentences.jsonl -> predictions.jsonl (one PredictionRecord per sentence and target).

Each sentence yields one pair per distinct actor it mentions plus one "engagement" pair
(``models.inputs.from_sentence``). A malformed line is reported with file and line number
and skipped; the rest is still predicted. The output is written atomically.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annotate.atomic import atomic_write_jsonl
from annotate.schema import PredictionRecord, SentenceRecord, records_of, unique_sentences
from models.base import StanceClassifier
from models.inputs import StanceInput, from_sentence

log = logging.getLogger(__name__)


@dataclass
class PredictSummary:
    """What :func:`predict` did."""

    sentences: int = 0
    pairs: int = 0
    errors: list[str] = field(default_factory=list)
    out: Path | None = None
    model_version: str = ""
    records: list[PredictionRecord] = field(default_factory=list, repr=False)  # what was predicted


def predict_records(model: StanceClassifier, items: Sequence[StanceInput], *, batch_size: int = 256,
                    progress: bool = False) -> list[PredictionRecord]:
    """PredictionRecords for pairs (probabilities calibrated, keys = stance labels)."""
    from tqdm.auto import tqdm

    records: list[PredictionRecord] = []
    version = model.model_version
    for start in tqdm(range(0, len(items), batch_size), desc="predict", unit="batch", disable=not progress):
        chunk = items[start:start + batch_size]
        probs, relevance = model.predict_proba_and_relevance(chunk)
        for i, (item, row) in enumerate(zip(chunk, probs)):
            best = int(row.argmax())
            rel = None if relevance is None or np.isnan(relevance[i]) else round(float(relevance[i]), 6)
            records.append(PredictionRecord(
                sentence_id=item.sentence_id, article_id=item.article_id, target=item.target,
                label=model.classes_[best],
                probabilities={label: round(float(p), 6) for label, p in zip(model.classes_, row)},
                model_version=version, relevance=rel,
            ))
    return records


def predict(sentences: str | Path | Sequence[SentenceRecord], *, model: str | Path | StanceClassifier,
            out: str | Path | None = None, runtime: str | None = None, batch_size: int = 1024,
            progress: bool = True) -> PredictSummary:
    """Predict every (sentence, target) pair of ``sentences`` and write ``out``.

    Args:
        sentences: a ``sentences.jsonl`` path (bad lines are reported and skipped) or
            :class:`SentenceRecord` objects (or dicts of them).
        model: a saved model directory or a loaded classifier.
        out: the predictions file to write (atomically); ``None`` writes nothing. Either
            way the predictions are in the summary's ``records``.
        runtime: transformer inference path: ``"fp32"`` (default) or ``"int8"``.
        batch_size: pairs handed to the model at once (it length-sorts them internally).
    """
    from models.preannotate import read_sentences
    from models.registry import load_model

    if isinstance(model, StanceClassifier):
        clf = model
        if runtime and hasattr(clf, "with_runtime") and runtime != clf.runtime:
            clf = copy.copy(clf).with_runtime(runtime)  # the caller's classifier keeps its own runtime
    else:
        clf = load_model(model, **({"runtime": runtime} if runtime else {}))
    summary = PredictSummary(model_version=clf.model_version)
    items: list[StanceInput] = []
    if isinstance(sentences, (str, os.PathLike)):
        # The same tolerant reader as pre-annotation: bad lines are reported, the rest predicted.
        sentence_records, summary.errors = read_sentences(sentences)
        where = str(sentences)
    else:
        sentence_records, _ = unique_sentences(records_of(sentences, SentenceRecord, name="sentences"))
        where = "sentences"
    if summary.errors:  # each one is in summary.errors (file:line: what is wrong)
        log.warning("%s: %d problem(s), first: %s", sentences, len(summary.errors), summary.errors[0])
    if not sentence_records:  # fail before writing: an earlier predictions file stays as it was
        outcome = f"{out} not written" if out is not None else "nothing predicted"
        raise ValueError(f"{where}: no valid sentence records ({len(summary.errors)} bad lines); {outcome}")
    for record in sentence_records:
        summary.sentences += 1
        items.extend(from_sentence(record))
    records = predict_records(clf, items, batch_size=batch_size, progress=progress)
    summary.pairs = len(records)
    summary.records = records
    if out is not None:
        atomic_write_jsonl(out, records)
        summary.out = Path(out)
    return summary
