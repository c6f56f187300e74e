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
    #: every pair's out-of-fold probabilities (models.error_profile; ``slant crossval --error-profile``)
    error_profile: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("folds", "error_profile")}
        return {**out, "folds": [vars(fold).copy() for fold in self.folds]}


def crossval(dataset: Any, *, model: str = "baseline", args: TrainingArguments | None = None,
             base_model: str | None = None, min_articles: int = 2,
             on_fold: Callable[[str, Any], None] | None = None) -> CrossValResult:
    """Leave-one-article-out CV of ``model`` on every row of ``dataset``.

    ``result.error_profile`` holds every pair's out-of-fold probabilities (an
    ``ErrorProfile``, method ``cross_validated``). ``on_fold(article_id, fitted_model)`` is
    called after each fold's training (e.g. to predict the held-out article's sentences).

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
    result = CrossValResult(model=model)
    all_truth, all_pred, all_majority = [], [], []
    oof_inputs, oof_probabilities = [], []
    for article in articles:
        test = [i for i, x in enumerate(X) if x.article_id == article]
        train = [i for i, x in enumerate(X) if x.article_id != article]
        clf = create_model(model, **params)
        clf.fit([X[i] for i in train], [y[i] for i in train])
        truth = clf.label_indices([y[i] for i in test])
        probabilities = clf.predict_proba([X[i] for i in test])
        pred = probabilities.argmax(axis=1)  # = predict(): the temperature does not move the argmax
        oof_inputs += [X[i] for i in test]
        oof_probabilities.append(probabilities)
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
    from models.data import describe_source
    from models.error_profile import CROSS_VALIDATED, profile_from_probabilities

    result.error_profile = profile_from_probabilities(
        oof_inputs, all_truth, np.concatenate(oof_probabilities), labels=clf.classes_, method=CROSS_VALIDATED,
        gold=f"leave-one-article-out predictions of the {model} on all splits of {describe_source(dataset)} "
             f"({len(articles)} articles)", model_kind=model)
    return result
