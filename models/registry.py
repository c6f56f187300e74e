"""Model registry: names -> classifier classes; load any saved model by its recorded kind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.base import META_FILE, ModelLoadError, StanceClassifier, read_json


def _baseline() -> type[StanceClassifier]:
    from models.baseline import BaselineStanceClassifier

    return BaselineStanceClassifier


def _transformer() -> type[StanceClassifier]:
    from models.transformer import TransformerStanceClassifier

    return TransformerStanceClassifier


#: Registered model names; classes are imported on first use (torch only when needed).
MODELS: dict[str, Callable[[], type[StanceClassifier]]] = {"baseline": _baseline, "transformer": _transformer}


class UnknownModelError(KeyError):
    """A model name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def get_model_class(name: str) -> type[StanceClassifier]:
    """The class registered as ``name``; :class:`UnknownModelError` lists the valid names."""
    try:
        return MODELS[name]()
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; valid models: {', '.join(sorted(MODELS))}") from None


def create_model(name: str, **params: Any) -> StanceClassifier:
    """An unfitted model: ``create_model("transformer", args=TrainingArguments(epochs=2))``."""
    return get_model_class(name)(**params)


def load_model(directory: str | Path, **options: Any) -> StanceClassifier:
    """Load a saved model of either kind, dispatching on ``slant_model.json``'s ``kind``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(f"{directory}: model directory not found")
    meta = read_json(directory / META_FILE, what="model metadata")
    if not isinstance(meta, dict):
        raise ModelLoadError(f"{directory / META_FILE}: corrupted model metadata: a JSON object is expected, "
                             f"not {type(meta).__name__}")
    kind = meta.get("kind", "")
    if kind not in MODELS:
        raise ModelLoadError(f"{directory / META_FILE}: unknown model kind {kind!r}; valid: {', '.join(sorted(MODELS))}")
    cls = get_model_class(kind)
    known = TRANSFORMER_LOAD_OPTIONS if kind == "transformer" else ("runtime",)
    if unknown := sorted(set(options) - set(known)):
        raise TypeError(f"load_model() got unknown option(s) {unknown}; valid: {', '.join(known)}")
    if kind != "transformer":
        # a baseline has one inference path; still refuse a runtime no model has
        from models.transformer import RUNTIMES

        if options.get("runtime") not in (None, *RUNTIMES):
            raise ValueError(f"unknown runtime {options['runtime']!r}; valid: {', '.join(RUNTIMES)}")
        return cls.load(directory)
    return cls.load(directory, **options)


#: Keyword options of :meth:`TransformerStanceClassifier.load` that ``load_model`` passes on.
TRANSFORMER_LOAD_OPTIONS = ("runtime", "threads", "workers")
