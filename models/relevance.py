"""Is a sentence about engagement at all? A relevance head next to the stance classifier.

Every sentence gets an engagement stance, so without this, off-topic lines ("Sign In Now", a
market ticker, a report of a blast) would count toward an article's pro-engagement score. The
gold marks such sentences "not about engagement" (``label_config.xml``'s off-target choice);
the head learns that from them and the report counts only sentences it calls relevant.

The head is a logistic regression on features the classifier already computes for the
engagement pair (the transformer's pooled vectors; the baseline's TF-IDF row), so predicting
relevance costs no second encoder pass. Weights are saved as ``relevance.safetensors``
(numpy arrays, no pickle) next to the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

RELEVANCE_FILE = "relevance.safetensors"
#: Below this many examples of either class the head is not trained (too little to learn from).
MIN_PER_CLASS = 5


class RelevanceError(ValueError):
    """A relevance head file is missing, damaged or does not fit the model."""


class RelevanceHead:
    """``P(about engagement | features)``: standardised features -> logistic regression.

    Args:
        C: inverse L2 regularisation strength of the logistic regression.
        threshold: ``is_relevant`` cut-off on the probability.
    """

    def __init__(self, C: float = 0.1, threshold: float = 0.5) -> None:
        self.C = C
        self.threshold = threshold

    def fit(self, features: np.ndarray, about: np.ndarray) -> RelevanceHead:
        """Fit on ``features`` ``(n, d)`` and ``about`` ``(n,)`` booleans.

        Raises ValueError on mismatched shapes or fewer than :data:`MIN_PER_CLASS` examples
        of either class (a head that has seen no off-topic sentence would call all relevant).
        """
        from sklearn.linear_model import LogisticRegression

        x = np.asarray(features, dtype=np.float64)
        t = np.asarray(about, dtype=bool)
        if x.ndim != 2 or t.shape != (x.shape[0],):
            raise ValueError(f"features must be (n, d) and about (n,), got {x.shape} and {t.shape}")
        positives, negatives = int(t.sum()), int((~t).sum())
        if min(positives, negatives) < MIN_PER_CLASS:
            raise ValueError(f"relevance needs >= {MIN_PER_CLASS} sentences about engagement and not about it; "
                             f"got {positives} and {negatives}")
        self.mean_ = x.mean(axis=0)
        self.scale_ = x.std(axis=0) + 1e-6
        lr = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000)
        lr.fit((x - self.mean_) / self.scale_, t)
        self.coef_ = lr.coef_[0].astype(np.float64)
        self.intercept_ = float(lr.intercept_[0])
        self.n_train_ = {"about": positives, "not_about": negatives}
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``(n,)`` probabilities that each row is about engagement."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.coef_.shape[0]:
            raise ValueError(f"features must be (n, {self.coef_.shape[0]}), got {x.shape}")
        z = ((x - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def save(self, directory: str | Path) -> None:
        from safetensors.numpy import save_file

        tensors = {"mean": self.mean_, "scale": self.scale_, "coef": self.coef_,
                   "intercept": np.array([self.intercept_])}
        save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in tensors.items()},
                  str(Path(directory) / RELEVANCE_FILE),
                  metadata={"C": str(self.C), "threshold": str(self.threshold)})

    @classmethod
    def load(cls, directory: str | Path, *, n_features: int | None = None) -> RelevanceHead:
        from safetensors import safe_open

        path = Path(directory) / RELEVANCE_FILE
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = fh.metadata() or {}
                tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open is not a dict)
            head = cls(C=float(meta.get("C", 0.1)), threshold=float(meta.get("threshold", 0.5)))
            head.mean_, head.scale_, head.coef_ = tensors["mean"], tensors["scale"], tensors["coef"]
            head.intercept_ = float(tensors["intercept"][0])
        except Exception as exc:  # safetensors raises its own error types for every kind of damage
            raise RelevanceError(f"{path}: cannot read the relevance head ({type(exc).__name__}: {exc})") from exc
        d = head.coef_.shape
        if len(d) != 1 or head.mean_.shape != d or head.scale_.shape != d or (n_features and d[0] != n_features):
            raise RelevanceError(f"{path}: relevance head of shape {d} does not fit {n_features} features")
        return head

    def describe(self) -> dict[str, Any]:
        return {"C": self.C, "threshold": self.threshold, **({"n_train": self.n_train_} if hasattr(self, "n_train_") else {})}


__all__ = ["MIN_PER_CLASS", "RELEVANCE_FILE", "RelevanceError", "RelevanceHead"]
