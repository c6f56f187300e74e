"""Pre-annotation: push sentences to Label Studio with the model's stances pre-selected.

The glue between a saved model and the push side (:mod:`annotate.labelstudio.push`): every
(sentence, target) pair is predicted, turned into :class:`annotate.schema.PredictionRecord`
objects, and pushed with the sentences; each task then carries one prediction stamped with
the model's ``model_version`` and a ``score``, which Label Studio shows pre-selected to
annotators. Pushing again adds nothing (tasks are keyed by ``sentence_id``, predictions by
``model_version``); a new model version adds its predictions beside the old ones.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotate.schema import PredictionRecord, SentenceRecord, unique_sentences

log = logging.getLogger(__name__)


@dataclass
class ScoredSentences:
    """Model output for a list of sentences, pair by pair.

    Attributes:
        records: one :class:`PredictionRecord` per (sentence, target), sentences in input order,
            targets in task order (actors by first mention, then engagement).
        proba: (n_pairs, n_classes) probabilities, rows aligned with ``records``.
        sentence_of_pair: (n_pairs,) index of each pair's sentence in the input list.
    """

    records: list[PredictionRecord]
    proba: np.ndarray
    sentence_of_pair: np.ndarray
    model_version: str = ""
    errors: list[str] = field(default_factory=list)


def read_sentences(path: str | Path) -> tuple[list[SentenceRecord], list[str]]:
    """Sentences from a ``sentences.jsonl``; bad lines come back as messages naming file and line."""
    from annotate.labelstudio.records import read_jsonl

    result = read_jsonl(path, SentenceRecord.from_dict)
    # A pool made by concatenating sentences files repeats ids; a sentence is chosen once.
    records, repeated = unique_sentences(result.records)
    errors = list(result.errors)
    if repeated:
        errors.append(f"{path}: {repeated} line(s) repeat a sentence id; each sentence counts once (its first line)")
    return records, errors


def score_sentences(model: Any, sentences: Sequence[SentenceRecord], *, batch_size: int = 2048) -> ScoredSentences:
    """Predict every (sentence, target) pair of ``sentences`` with ``model``.

    Pairs are built by :func:`models.inputs.from_sentence` (the same inputs training and
    ``slant predict`` use). Works in batches of ``batch_size`` pairs with a progress bar.
    """
    from tqdm.auto import tqdm

    from models.backend.tasks import prediction_records
    from models.inputs import from_sentence

    items, owner = [], []
    for i, sentence in enumerate(sentences):
        pairs = from_sentence(sentence)
        items.extend(pairs)
        owner.extend([i] * len(pairs))
    version = model.model_version
    n_classes = len(model.classes_)
    chunks = []
    for start in tqdm(range(0, len(items), batch_size), desc="predicting", unit="batch",
                      disable=len(items) <= batch_size):
        chunks.append(model.predict_proba(items[start:start + batch_size]))
    proba = np.concatenate(chunks) if chunks else np.zeros((0, n_classes))
    records = prediction_records(items, proba, model_version=version)
    return ScoredSentences(records=records, proba=proba, sentence_of_pair=np.asarray(owner, dtype=np.int64),
                           model_version=version)


def preannotate(sentences: Sequence[SentenceRecord], *, project: str, model: Any, connection: Any = None,
                batch_size: int = 1000, progress: bool = True) -> Any:
    """Push ``sentences`` to ``project`` with ``model``'s predictions attached.

    Returns the :class:`annotate.labelstudio.push.PushResult` (tasks created / already
    there, predictions added / already there, errors naming the items not pushed).
    """
    from annotate.labelstudio.connection import connect
    from annotate.labelstudio.push import push_sentences

    scored = score_sentences(model, sentences)
    conn = connection or connect()
    result = push_sentences(conn, sentences, project=project, predictions=scored.records,
                            batch_size=batch_size, progress=progress)
    log.info("pre-annotated with %s: %s", scored.model_version, result.summary())
    return result


def preannotate_file(sentences_path: str | Path, *, project: str, model_dir: str | Path, connection: Any = None,
                     batch_size: int = 1000, progress: bool = True) -> Any:
    """:func:`preannotate` from files: ``sentences.jsonl`` and a saved model directory.

    Unreadable lines are reported in the result's ``errors`` (with file and line); the
    readable sentences are still pushed.
    """
    from models.registry import load_model

    sentences, errors = read_sentences(sentences_path)
    model = load_model(model_dir)
    result = preannotate(sentences, project=project, model=model, connection=connection,
                         batch_size=batch_size, progress=progress)
    result.errors[:0] = errors
    return result


# -- active learning: pick what to label next and push it -------------------------------------

@dataclass
class NextBatch:
    """What ``slant next`` chose and what the push did.

    Attributes:
        chosen: the sentences picked, best first.
        scores: their informativeness (the strategy's score of their most uncertain target).
        pool_size / excluded: sentences read from the pool / left out because already in the project.
        push: the :class:`annotate.labelstudio.push.PushResult` (``None`` on a dry run).
    """

    chosen: list[SentenceRecord]
    scores: list[float]
    strategy: str
    model_version: str
    pool_size: int
    excluded: int
    push: Any = None
    errors: list[str] = field(default_factory=list)


def select_next(model: Any, pool: Sequence[SentenceRecord], *, k: int, strategy: str = "entropy",
                exclude_ids: set[str] | frozenset[str] = frozenset(), max_per_article: int | None = 5,
                max_per_actor: int | None = None, seed: int = 0) -> tuple[list[int], np.ndarray, ScoredSentences]:
    """Indices of the ``k`` most informative pool sentences, diverse across articles and actors.

    A sentence's score is the strategy's score of its most uncertain target (actors and
    engagement). Sentences whose id is in ``exclude_ids`` (already in the project) are never
    picked. At most ``max_per_article`` sentences per article and ``max_per_actor`` per actor
    (default: 40% of ``k``) are taken while others remain (see
    :func:`models.active_learning.select_top_k`).

    Returns:
        ``(indices, sentence_scores, scored)``: chosen pool indices (best first), the (n_pool,)
        scores, and the model's per-pair output.
    """
    from models.active_learning import aggregate_scores, select_top_k, uncertainty_scores

    scored = score_sentences(model, pool)
    if strategy == "random":  # one draw per sentence: a max over its pairs would favour many-actor sentences
        sentence_scores = uncertainty_scores(np.zeros((len(pool), 1)), strategy="random", seed=seed)
    else:
        pair_scores = uncertainty_scores(scored.proba, strategy=strategy, seed=seed)
        sentence_scores = aggregate_scores(pair_scores, scored.sentence_of_pair, n_groups=len(pool), how="max")
    exclude = np.array([s.sentence_id in exclude_ids for s in pool], dtype=bool)
    caps: dict[str, int] = {}
    if max_per_article:
        caps["article"] = max_per_article
    caps["actor"] = max_per_actor if max_per_actor else max(1, int(np.ceil(0.4 * k)))
    groups = {"article": [s.article_id for s in pool],
              # Sentences without actors share no actor group: only engagement is asked of them.
              "actor": [tuple(s.actors()) for s in pool]}
    chosen = select_top_k(sentence_scores, k=k, exclude=exclude, groups={g: groups[g] for g in caps},
                          max_per_group=caps)
    return [int(i) for i in chosen], sentence_scores, scored


def next_batch(pool_path: str | Path, *, model_dir: str | Path, project: str, k: int = 50, strategy: str = "entropy",
               max_per_article: int | None = 5, max_per_actor: int | None = None, seed: int = 0,
               connection: Any = None, dry_run: bool = False, progress: bool = True) -> NextBatch:
    """``slant next``: choose the ``k`` most informative unlabeled pool sentences and push them
    to ``project`` with the model's pre-annotations.

    Sentences already in the project (labeled or waiting) are excluded, so calling it again
    after annotators finish a batch picks a new batch. ``dry_run`` chooses without pushing.
    """
    from annotate.labelstudio.connection import LabelStudioError, UnknownProjectError, connect
    from annotate.labelstudio.push import existing_tasks, find_project, push_sentences
    from models.active_learning import STRATEGIES
    from models.registry import load_model

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}")
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    pool, errors = read_sentences(pool_path)
    model = load_model(model_dir)
    try:
        conn = connection or connect()
        in_project = set(existing_tasks(conn, find_project(conn, project)))
    except UnknownProjectError:
        in_project = set()  # the push creates it
    except LabelStudioError as exc:
        if not dry_run:
            raise
        # A dry run only prints the choice: without a server it cannot exclude what is there.
        in_project = set()
        errors = [*errors, f"{exc}; dry run without excluding sentences already in {project!r}"]
    chosen, scores, scored = select_next(model, pool, k=k, strategy=strategy, exclude_ids=in_project,
                                         max_per_article=max_per_article, max_per_actor=max_per_actor, seed=seed)
    batch = NextBatch(chosen=[pool[i] for i in chosen], scores=[float(scores[i]) for i in chosen], strategy=strategy,
                      model_version=scored.model_version, pool_size=len(pool),
                      excluded=sum(s.sentence_id in in_project for s in pool), errors=list(errors))
    if dry_run or not chosen:
        return batch
    chosen_ids = {pool[i].sentence_id for i in chosen}
    records = [r for r in scored.records if r.sentence_id in chosen_ids]
    batch.push = push_sentences(conn, batch.chosen, project=project, predictions=records, progress=progress)
    return batch
