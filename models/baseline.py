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
from models.base import META_FILE, ModelLoadError, StanceClassifier, save_model_files
from models.inputs import StanceInput, describe_target

MODEL_FILE = "model.skops"
PLACEHOLDER = "xtargetx"
_WORD = re.compile(r"\w+", re.UNICODE)

#: The only types the saved pipeline may contain; anything else fails to load. skops itself
#: trusts every scikit-learn estimator, so :func:`saved_types` reads the file's schema and
#: checks each type against this list (plus plain containers) before anything is loaded.
TRUSTED_TYPES = [
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "numpy.float64",
    "numpy.int64",
    "builtins.slice",
]


#: Containers and arrays skops writes for any object; trusted along with TRUSTED_TYPES.
_CONTAINER_TYPES = {"builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int",
                    "builtins.float", "builtins.bool", "builtins.NoneType", "numpy.ndarray"}
#: Constructor parameters and their types (what ``slant_model.json`` "params" may set).
_PARAM_TYPES = {"C": (int, float), "ngram_max": int, "min_df": int, "max_iter": int}


def saved_types(path: str | Path) -> set[str]:
    """Every ``module.Class`` named in a skops file's schema (its objects, types and arrays)."""
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


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
        # A refit that fails below must not leave the previous model's version on a half-fitted pipeline.
        self.metadata_ = {}
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
            "params": self.get_params(),  # C, ngram_max, min_df, max_iter
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

    def _digest(self, *, with_idf: bool = True) -> str:
        """Digest of everything that scores: coefficients, intercepts, vocabulary and (since the
        sixth session) the idf weights. ``with_idf=False`` is the earlier digest, accepted on
        load for models saved before."""
        logreg = self.pipeline_.named_steps["logreg"]
        tfidf = self.pipeline_.named_steps["tfidf"]
        digest = hashlib.sha256(np.ascontiguousarray(logreg.coef_).tobytes())
        digest.update(np.ascontiguousarray(logreg.intercept_).tobytes())
        digest.update(" ".join(sorted(tfidf.vocabulary_)).encode())
        if with_idf:
            vocabulary = tfidf.vocabulary_
            order = np.asarray([vocabulary[t] for t in sorted(vocabulary)], dtype=np.int64)
            digest.update(np.ascontiguousarray(np.asarray(tfidf.idf_, dtype=np.float64)[order]).tobytes())
        return digest.hexdigest()[:12]

    def save(self, directory: str | Path) -> Path:
        import skops.io as sio

        def write(folder: Path) -> None:
            sio.dump(self.pipeline_, folder / MODEL_FILE)
            self._write_common(folder)

        return save_model_files(directory, write)

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
            allowed = set(TRUSTED_TYPES) | _CONTAINER_TYPES
            untrusted = sorted((saved_types(path) - allowed)
                               | {t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES})
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
            # Only constructor arguments: "params" must not reach classes_ or temperature_,
            # which labels.json and the checked temperature set.
            expected = _PARAM_TYPES.get(key)
            if expected is None or isinstance(value, bool) or not isinstance(value, expected):
                raise ModelLoadError(f"{directory / META_FILE}: params {key!r}={value!r} is not one of "
                                     f"{sorted(_PARAM_TYPES)} with the right type")
            setattr(self, key, value)
        version = self.metadata_["model_version"].removeprefix(f"{self.kind}-")
        # Models saved before the digest covered the idf weights carry the earlier digest.
        legacy = self._digest(with_idf=False)
        self._check_digest(directory, legacy if version == legacy else self._digest())
        return self
