"""The scikit-learn yardstick: TF-IDF n-grams of a target-marked sentence + logistic regression.

Each pair becomes one string (:func:`baseline_features`): the sentence with the target's
mentions replaced by a placeholder token (so the model learns "criticised X", not names),
the words near the mentions tagged ``near_``, and the target's own words tagged ``tgt_``
(stance priors per actor). Logistic regression with balanced class weights; saved with
skops (an explicit list of trusted types, no pickle) plus ``labels.json``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from annotate.labels import load_label_set
from models.base import META_FILE, ModelLoadError, StanceClassifier
from models.inputs import StanceInput, describe_target

MODEL_FILE = "model.skops"
PLACEHOLDER = "xtargetx"
_WORD = re.compile(r"\w+", re.UNICODE)

#: The only types the saved pipeline may contain; anything else fails to load.
TRUSTED_TYPES = [
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "numpy.float64",
    "numpy.int64",
    "builtins.slice",
]


def baseline_features(item: StanceInput, *, window: int = 4) -> str:
    """The text the TF-IDF sees for one pair (see the module docstring)."""
    text, spans = item.text, sorted(s for s in item.spans if 0 <= s[0] < s[1] <= len(item.text))
    pieces, cursor, near = [], 0, []
    for start, end in spans:
        if start < cursor:
            continue
        before = _WORD.findall(text[max(0, start - 60):start])[-window:]
        after = _WORD.findall(text[end:end + 60])[:window]
        near += [f"near_{w.lower()}" for w in before + after]
        pieces += [text[cursor:start], f" {PLACEHOLDER} "]
        cursor = end
    pieces.append(text[cursor:])
    target = [f"tgt_{w.lower()}" for w in _WORD.findall(describe_target(item))]
    return " ".join(["".join(pieces), *near, *target])


class BaselineStanceClassifier(StanceClassifier):
    """TF-IDF (word 1-2 grams, sublinear tf) + ``LogisticRegression(class_weight="balanced")``.

    Args:
        C: inverse regularisation strength.
        ngram_max: longest word n-gram.
        min_df: minimum document frequency of a feature.
        max_iter: solver iterations.
    """

    kind = "baseline"

    def __init__(self, *, C: float = 4.0, ngram_max: int = 2, min_df: int = 1, max_iter: int = 2000) -> None:
        self.C = C
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.max_iter = max_iter

    def get_params(self) -> dict:
        """Constructor arguments (sklearn convention): ``type(m)(**m.get_params())`` is an unfitted copy."""
        return {"C": self.C, "ngram_max": self.ngram_max, "min_df": self.min_df, "max_iter": self.max_iter}

    def fit(self, X: Sequence[StanceInput], y: Sequence[str], *, X_val: Sequence[StanceInput] | None = None,
            y_val: Sequence[str] | None = None) -> BaselineStanceClassifier:
        """Fit on all of ``X``; validation data is not needed (kept for the shared interface)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} pairs but y has {len(y)} labels")
        self.classes_ = load_label_set().stance
        y_idx = self.label_indices(y)
        if len(set(y_idx.tolist())) < 2:
            raise ValueError("the baseline needs at least two different labels in the training data")
        self.pipeline_ = Pipeline([
            ("tfidf", TfidfVectorizer(ngram_range=(1, self.ngram_max), min_df=self.min_df, sublinear_tf=True,
                                      lowercase=True)),
            ("logreg", LogisticRegression(C=self.C, class_weight="balanced", max_iter=self.max_iter)),
        ])
        self.pipeline_.fit([baseline_features(x) for x in X], y_idx)
        self.temperature_ = 1.0
        self.metadata_ = {
            "model_version": f"{self.kind}-{self._digest()}",
            "trained_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "params": self.get_params(),
            "n_train": len(X),
            "n_validation": len(X_val) if X_val is not None else 0,
        }
        return self

    def logits(self, X: Sequence[StanceInput]) -> np.ndarray:
        """Multinomial decision scores placed in ``classes_`` columns (absent classes get -inf-like scores)."""
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        scores = self.pipeline_.decision_function([baseline_features(x) for x in X])
        seen = self.pipeline_.named_steps["logreg"].classes_
        if scores.ndim == 1:  # two classes seen: sklearn returns one column (score of classes_[1])
            scores = np.stack([-scores / 2, scores / 2], axis=1)
        out = np.full((len(X), len(self.classes_)), -1e4)
        out[:, seen] = scores
        return out

    def _digest(self) -> str:
        logreg = self.pipeline_.named_steps["logreg"]
        digest = hashlib.sha256(np.ascontiguousarray(logreg.coef_).tobytes())
        digest.update(np.ascontiguousarray(logreg.intercept_).tobytes())
        digest.update(" ".join(sorted(self.pipeline_.named_steps["tfidf"].vocabulary_)).encode())
        return digest.hexdigest()[:12]

    def save(self, directory: str | Path) -> Path:
        import os
        import tempfile

        import skops.io as sio

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".model.", suffix=".skops")
        os.close(fd)
        try:
            sio.dump(self.pipeline_, tmp)
            os.replace(tmp, directory / MODEL_FILE)
        finally:
            Path(tmp).unlink(missing_ok=True)
        self._write_common(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> BaselineStanceClassifier:
        import skops.io as sio

        directory = Path(directory)
        if not directory.is_dir():
            raise ModelLoadError(f"{directory}: model directory not found")
        self = cls()
        self._read_common(directory)
        path = directory / MODEL_FILE
        if not path.is_file():
            raise ModelLoadError(f"{path}: missing model file")
        try:
            untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
            if untrusted:
                raise ModelLoadError(f"{path}: refuses to load untrusted types {untrusted}")
            self.pipeline_ = sio.load(path, trusted=TRUSTED_TYPES)
        except ModelLoadError:
            raise
        except Exception as exc:  # zip/json damage surfaces as many exception types
            raise ModelLoadError(f"{path}: corrupted model file ({type(exc).__name__}: {exc})") from exc
        params = self.metadata_.get("params", {})
        if not isinstance(params, dict):
            raise ModelLoadError(f"{directory / META_FILE}: params must be an object, not {params!r}")
        for key, value in params.items():
            setattr(self, key, value)
        self._check_digest(directory, self._digest())
        return self
