"""The interface both stance classifiers share, and what every saved model directory holds.

sklearn's estimator shape: the constructor only stores parameters (``get_params`` /
``set_params``, so ``sklearn.base.clone`` works), ``fit`` returns ``self``, ``predict``
returns label names and ``predict_proba`` an array of shape ``(n, n_classes)`` whose
columns follow ``classes_`` (= ``load_label_set().stance``).

Probabilities are ``softmax(logits / temperature_)``: each model only implements
:meth:`StanceClassifier.logits`; temperature scaling (``models.calibration``) sets
``temperature_`` and is saved with the model.

A saved model directory always holds ``labels.json`` (the label list, checked against
``label_config.xml`` on load) and ``slant_model.json`` (kind, model_version, temperature,
training provenance and metrics), beside the model's own weights.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from annotate.atomic import atomic_write_json
from annotate.labels import load_label_set
from models.inputs import StanceInput

LABELS_FILE = "labels.json"
META_FILE = "slant_model.json"


#: Files a saved model of either kind may consist of. A save removes those of them it did not
#: write, so saving over another model leaves no stale head, weights or card behind.
MODEL_FILES = frozenset({
    LABELS_FILE, META_FILE, "README.md", "model.skops", "model.safetensors", "head.safetensors", "config.json",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
    "merges.txt", "added_tokens.json", "generation_config.json", "spiece.model", "sentencepiece.bpe.model",
    "error_profile.json",  # models.error_profile: written after the save, so an older one never outlives its model
})


def save_model_files(directory: str | Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(folder)`` on a fresh folder beside ``directory``, then move what it wrote into
    ``directory``. When ``directory`` held a saved model before, the :data:`MODEL_FILES` there
    that this save did not write (files of the earlier model) are deleted; in any other folder
    nothing but the written files is touched (a user's own README.md stays). Returns ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    held_a_model = (directory / META_FILE).is_file()
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.saving-"))
    try:
        write(tmp)
        written = {p.name for p in tmp.iterdir()}
        for name in sorted(written):
            os.replace(tmp / name, directory / name)
        for name in sorted(MODEL_FILES - written) if held_a_model else ():
            (directory / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


class ModelLoadError(RuntimeError):
    """A saved model cannot be used: missing or corrupted files, or labels that don't match."""


def softmax(logits: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``; shape preserved, rows sum to 1."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def read_json(path: Path, *, what: str) -> Any:
    """Read a JSON file of a saved model; clear :class:`ModelLoadError` if missing or broken."""
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing {what}; is {path.parent} a saved Slant model directory?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: corrupted {what}: {exc}") from exc


def check_labels(model_dir: Path, expected: Sequence[str] | None = None) -> tuple[str, ...]:
    """Read ``labels.json`` and check it equals the stance labels of ``label_config.xml``.

    Raises :class:`ModelLoadError` naming both lists on a mismatch (a model trained for
    another label set would silently mislabel everything).
    """
    saved = read_json(model_dir / LABELS_FILE, what="label list")
    if not isinstance(saved, list) or not all(isinstance(x, str) for x in saved):
        raise ModelLoadError(f"{model_dir / LABELS_FILE}: expected a JSON list of label names, got {saved!r}")
    wanted = tuple(expected) if expected is not None else load_label_set().stance
    if tuple(saved) != wanted:
        raise ModelLoadError(
            f"{model_dir / LABELS_FILE}: the model's labels {saved} do not match the stance labels "
            f"{list(wanted)} of label_config.xml; retrain the model for this label set"
        )
    return tuple(saved)


class StanceClassifier(ABC):
    """Sentence + target -> stance. Subclasses implement fit, logits, save and load."""

    #: Registry name, written to ``slant_model.json`` so ``models.registry.load_model`` dispatches.
    kind: str = ""

    classes_: tuple[str, ...]
    temperature_: float = 1.0
    relevance_: Any = None  # models.relevance.RelevanceHead, where the model has one
    metadata_: dict[str, Any]

    # -- to implement -------------------------------------------------------------------
    @abstractmethod
    def fit(self, X: Sequence[StanceInput], y: Sequence[str], *, X_val: Sequence[StanceInput] | None = None,
            y_val: Sequence[str] | None = None) -> StanceClassifier:
        """Train on pairs ``X`` with label names ``y``; returns ``self``."""

    @abstractmethod
    def logits(self, X: Sequence[StanceInput]) -> np.ndarray:
        """Uncalibrated scores, shape ``(n, n_classes)``, columns in ``classes_`` order."""

    @abstractmethod
    def save(self, directory: str | Path) -> Path:
        """Write the model, ``labels.json`` and ``slant_model.json`` into ``directory``."""

    @classmethod
    @abstractmethod
    def load(cls, directory: str | Path) -> StanceClassifier:
        """Read a directory written by :meth:`save`; :class:`ModelLoadError` when unusable."""

    # -- shared -------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        return [name for name, p in inspect.signature(cls.__init__).parameters.items()
                if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments (scikit-learn convention): ``type(m)(**m.get_params())`` is an
        unfitted copy, and ``sklearn.base.clone`` works. ``deep`` is accepted for
        scikit-learn's sake; there are no nested estimators."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> StanceClassifier:
        """Set constructor arguments; ``ValueError`` naming the valid ones for an unknown name."""
        valid = self._param_names()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(f"unknown parameters {unknown} for {type(self).__name__}; valid: {valid}")
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def predict_proba(self, X: Sequence[StanceInput]) -> np.ndarray:
        """Calibrated probabilities, shape ``(n, n_classes)``, rows sum to 1; ``(0, k)`` for no input."""
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        return softmax(self.logits(X), temperature=self.temperature_)

    def predict_proba_and_relevance(self, X: Sequence[StanceInput]) -> tuple[np.ndarray, np.ndarray | None]:
        """``(probabilities (n, k), relevance (n,) or None)``: relevance is ``P(the sentence is
        about engagement)`` for engagement pairs (NaN for actor pairs), None for a model
        without a relevance head (``models.relevance``)."""
        return self.predict_proba(X), None

    def predict(self, X: Sequence[StanceInput]) -> np.ndarray:
        """Label names, shape ``(n,)``."""
        if len(X) == 0:
            return np.array([], dtype=object)
        return np.asarray(self.classes_, dtype=object)[self.logits(X).argmax(axis=1)]

    @property
    def model_version(self) -> str:
        """Stable id of the trained weights, stamped on every prediction."""
        version = getattr(self, "metadata_", {}).get("model_version")
        if not version:
            raise RuntimeError(f"{type(self).__name__} has no model_version: fit or load it first")
        return version

    def label_indices(self, y: Sequence[str | int]) -> np.ndarray:
        """Label names (or indices) -> class indices; ``ValueError`` naming an unknown label."""
        index = {name: i for i, name in enumerate(self.classes_)}
        out = np.empty(len(y), dtype=np.int64)
        for i, label in enumerate(y):
            if isinstance(label, (int, np.integer)):
                if not 0 <= int(label) < len(self.classes_):
                    raise ValueError(f"label index {label} at position {i} is outside 0..{len(self.classes_) - 1}")
                out[i] = int(label)
            elif label in index:
                out[i] = index[label]
            else:
                raise ValueError(f"unknown label {label!r} at position {i}; valid: {', '.join(self.classes_)}")
        return out

    def _write_common(self, directory: Path) -> None:
        atomic_write_json(directory / LABELS_FILE, list(self.classes_))
        meta = dict(self.metadata_)
        meta.update(kind=self.kind, temperature=float(self.temperature_))
        atomic_write_json(directory / META_FILE, meta)

    def _read_common(self, directory: Path) -> None:
        self.classes_ = check_labels(directory)
        path = directory / META_FILE
        meta = read_json(path, what="model metadata")
        if not isinstance(meta, dict):
            raise ModelLoadError(f"{path}: corrupted model metadata: a JSON object is expected, not {type(meta).__name__}")
        if meta.get("kind") != self.kind:
            raise ModelLoadError(f"{path}: a {meta.get('kind')!r} model, not {self.kind!r}")
        version = meta.get("model_version")
        if not isinstance(version, str) or not version.startswith(f"{self.kind}-"):
            raise ModelLoadError(f"{path}: model_version must be a string '{self.kind}-<digest>', not {version!r}")
        temperature = meta.get("temperature", 1.0)
        # 0 gives NaN probabilities and a negative value turns them around
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not math.isfinite(temperature) or temperature <= 0:
            raise ModelLoadError(f"{path}: temperature must be a finite number > 0, not {temperature!r}")
        self.metadata_ = meta
        self.temperature_ = float(temperature)

    def _check_digest(self, directory: Path, digest: str) -> None:
        """The loaded weights must be the ones ``model_version`` names: a missing tensor that
        the loader filled with random values, or a head that does not fit, fails here."""
        expected = self.metadata_["model_version"].removeprefix(f"{self.kind}-")
        if digest != expected:
            raise ModelLoadError(f"{directory}: the weights loaded ({self.kind}-{digest}) are not the saved model's "
                                 f"({self.metadata_['model_version']}); the directory is damaged or mixed")
