"""Leave-one-article-out cross-validation: every article is the test set once.

All splits of the dataset are pooled and grouped by ``article_id``. Per fold the model is
trained on the other articles. The transformer has no validation set in a fold (every
article is either training or test), so it trains for the full ``args.epochs``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from models.inputs import from_dataset
from models.metrics import accuracy, per_class_scores
from models.training_args import TrainingArguments

log = logging.getLogger(__name__)


def present_macro_f1(y_true, y_pred, *, n_classes: int) -> float:
    """Macro-F1 over the classes that occur in ``y_true`` or ``y_pred`` (sklearn's default);
    a fold whose article has only critical sentences is not scored on absent classes."""
    scores = per_class_scores(y_true, y_pred, n_classes=n_classes)
    seen = np.zeros(n_classes, dtype=bool)
    seen[np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]).astype(int))] = True
    return float(scores["f1"][seen].mean()) if seen.any() else 0.0


@dataclass
class Fold:
    article_id: str
    n_test: int
    n_train: int
    macro_f1: float
    accuracy: float


@dataclass
class CrossValResult:
    model: str
    folds: list[Fold] = field(default_factory=list)
    mean_macro_f1: float = 0.0
    std_macro_f1: float = 0.0
    pooled_macro_f1: float = 0.0  # 3-class macro-F1 over all out-of-fold predictions
    pooled_accuracy: float = 0.0
    majority_pooled_macro_f1: float = 0.0  # always predicting each fold's training majority
    # Article slant sign agreement of the out-of-fold predictions (annotate.report.sign_agreement):
    # each article scored by the fold model that never saw it, against its gold labels.
    sign_agreement: dict[str, Any] | None = None
    #: every pair's out-of-fold probabilities (models.error_profile; ``slant crossval --error-profile``)
    error_profile: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("folds", "error_profile")}
        return {**out, "folds": [vars(fold).copy() for fold in self.folds]}


@dataclass(frozen=True)
class _Gold:
    """A dataset row's label in the shape the report scores (``AdjudicatedLike``)."""

    sentence_id: str
    article_id: str
    target: str
    label: str
    off_target: bool = False
    n_annotators: int = 1
    agreement: float = 1.0
    task_id: int | None = None


def out_of_fold_sign_agreement(X, y, proba: np.ndarray, *, classes, model_version: str) -> dict[str, Any]:
    """Sign agreement of article slant between out-of-fold ``proba`` and the gold ``y``.

    The report's own scoring is used (``build_report``): sentences are rebuilt from the
    pairs (one per sentence id, in row order), predictions from ``proba`` ``(n, k)``.
    """
    from annotate.report.build import build_report
    from annotate.report.sign_agreement import sign_agreement
    from annotate.schema import Mention, PredictionRecord, SentenceRecord

    sentences: dict[str, SentenceRecord] = {}
    for x in X:
        record = sentences.setdefault(x.sentence_id, SentenceRecord(
            sentence_id=x.sentence_id, article_id=x.article_id, index=len(sentences), text=x.text, start=0,
            end=len(x.text)))
        record.mentions.extend(Mention(actor=x.target, text=x.text[s:e], start=s, end=e) for s, e in x.spans)
    predictions = [PredictionRecord(sentence_id=x.sentence_id, article_id=x.article_id, target=x.target,
                                    label=classes[int(p.argmax())],
                                    probabilities={c: float(v) for c, v in zip(classes, p)},
                                    model_version=model_version)
                   for x, p in zip(X, proba)]
    gold = [_Gold(x.sentence_id, x.article_id, x.target, label) for x, label in zip(X, y)]
    report = build_report(sentences=list(sentences.values()), predictions=predictions, adjudicated=gold)
    signs = sign_agreement(report)
    return {"overall": signs["overall"], "dimensions": signs["dimensions"]}


def crossval(dataset: Any, *, model: str = "baseline", args: TrainingArguments | None = None,
             base_model: str | None = None, min_articles: int = 2, transfer: Any = None,
             in_domain_repeat: int = 1, on_fold: Callable[[str, Any], None] | None = None) -> CrossValResult:
    """Leave-one-article-out CV of ``model`` on every row of ``dataset``.

    With ``transfer`` (a :class:`models.transfer.TransferMix`), every fold trains on the
    transfer pairs too, the fold's in-domain pairs repeated ``in_domain_repeat`` times, as
    ``models.train.train`` does. ``result.error_profile`` holds every pair's out-of-fold
    probabilities (an ``ErrorProfile``, method ``cross_validated``); ``result.sign_agreement``
    the article slant sign agreement of those predictions. ``on_fold(article_id, fitted_model)``
    is called after each fold's training (e.g. to predict the held-out article's sentences).

    Raises:
        ValueError: fewer than ``min_articles`` articles, or a fold whose training pairs
            (the other articles) have one class only, named before any fold is trained.
    """
    import datasets

    from models.data import load_dataset_any
    from models.metrics import macro_f1
    from models.registry import create_model

    parts = load_dataset_any(dataset)
    rows = datasets.concatenate_datasets(list(parts.values()))
    X, y = from_dataset(rows)
    articles = sorted({x.article_id for x in X})
    if len(articles) < min_articles:
        raise ValueError(f"leave-one-article-out needs at least {min_articles} articles, the dataset has {len(articles)}")
    for article in articles:  # before any training: a fold that cannot be trained stops the run at once
        classes = {label for x, label in zip(X, y) if x.article_id != article}
        if len(classes) < 2:
            raise ValueError(f"fold {article}: the other articles' {sum(x.article_id != article for x in X)} "
                             f"pairs all have the label {next(iter(classes))!r}; a classifier needs two classes "
                             "to train on")
    params = {"args": args or TrainingArguments(), "base_model": base_model} if model == "transformer" else {}
    X_t, y_t = [], []
    if transfer is not None:
        from models.transfer import transfer_pairs

        X_t, y_t, _ = transfer_pairs(transfer)
    result = CrossValResult(model=model)
    all_truth, all_pred, all_majority = [], [], []
    proba = np.zeros((len(X), 0))
    version = model
    oof_inputs, oof_probabilities = [], []
    for article in articles:
        test = [i for i, x in enumerate(X) if x.article_id == article]
        train = [i for i, x in enumerate(X) if x.article_id != article]
        clf = create_model(model, **params)
        repeat = in_domain_repeat if transfer is not None else 1
        clf.fit([X[i] for i in train] * repeat + X_t, [y[i] for i in train] * repeat + y_t)
        fold_proba = clf.predict_proba([X[i] for i in test])
        if proba.shape[1] == 0:
            proba = np.zeros((len(X), fold_proba.shape[1]))
        proba[test] = fold_proba
        truth = clf.label_indices([y[i] for i in test])
        pred = fold_proba.argmax(axis=1)  # = predict(): the temperature does not move the argmax
        oof_inputs += [X[i] for i in test]
        oof_probabilities.append(fold_proba)
        if on_fold is not None:
            on_fold(article, clf)
        train_idx = clf.label_indices([y[i] for i in train])
        majority = np.bincount(train_idx, minlength=len(clf.classes_)).argmax()
        k = len(clf.classes_)
        fold = Fold(article_id=article, n_test=len(test), n_train=len(train),
                    macro_f1=present_macro_f1(truth, pred, n_classes=k), accuracy=accuracy(truth, pred))
        log.info("fold %s: macro-F1 %.3f, accuracy %.3f (%d pairs)", article, fold.macro_f1, fold.accuracy, len(test))
        result.folds.append(fold)
        all_truth += truth.tolist()
        all_pred += pred.tolist()
        all_majority += [int(majority)] * len(test)
    f1s = np.array([f.macro_f1 for f in result.folds])
    result.mean_macro_f1, result.std_macro_f1 = float(f1s.mean()), float(f1s.std())
    k = len(parts[next(iter(parts))].features["label"].names)
    result.pooled_macro_f1 = macro_f1(all_truth, all_pred, n_classes=k)
    result.pooled_accuracy = accuracy(all_truth, all_pred)
    result.majority_pooled_macro_f1 = macro_f1(all_truth, all_majority, n_classes=k)
    result.sign_agreement = out_of_fold_sign_agreement(X, y, proba, classes=list(clf.classes_),
                                                       model_version=f"{version}-crossval")
    from models.data import describe_source
    from models.error_profile import CROSS_VALIDATED, profile_from_probabilities

    result.error_profile = profile_from_probabilities(
        oof_inputs, all_truth, np.concatenate(oof_probabilities), labels=clf.classes_, method=CROSS_VALIDATED,
        gold=f"leave-one-article-out predictions of the {model} on all splits of {describe_source(dataset)} "
             f"({len(articles)} articles)", model_kind=model)
    return result
