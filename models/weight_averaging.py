"""Uniform weight averaging of fine-tuned transformers (a "model soup", Wortsman et al., 2022).

Several fine-tunes of the same base model (different seeds, say) are averaged parameter
by parameter into one model of the same size: the average usually scores at least as
well as its ingredients, at the inference cost of one. Ingredients must share kind,
pooling, label list, tokenizer and every tensor's name and shape; anything else is
refused with the directory that differs.
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

from models.base import ModelLoadError


def average_models(directories: Sequence[str | Path]) -> object:
    """Load the transformers saved in ``directories`` and return their uniform weight average.

    Args:
        directories: two or more saved ``TransformerStanceClassifier`` directories (one is
            allowed and returns a copy of it).
    Returns an fp32 :class:`models.transformer.TransformerStanceClassifier` with a new
    ``model_version``, temperature 1.0 (recalibrate it: the average's confidence differs
    from its ingredients') and ``metadata_["averaged_from"]`` naming each ingredient.
    Integer buffers (e.g. position ids) must be equal and are copied, not averaged.
    """
    import torch

    from models.transformer import TransformerStanceClassifier, weights_digest

    if not directories:
        raise ValueError("average_models needs at least one model directory")
    models = [TransformerStanceClassifier.load(d, runtime="fp32") for d in directories]
    first, first_dir = models[0], Path(directories[0])
    states = [m.model_.state_dict() for m in models]
    for model, state, directory in zip(models[1:], states[1:], directories[1:]):
        for what, mine, theirs in (("pooling", first.pooling_, model.pooling_), ("labels", first.classes_, model.classes_),
                                   ("vocabulary size", len(first.tokenizer_), len(model.tokenizer_))):
            if mine != theirs:
                raise ModelLoadError(f"{directory}: {what} {theirs!r} differs from {first_dir}'s {mine!r}")
        if state.keys() != states[0].keys():
            extra = sorted(set(state) ^ set(states[0]))[:3]
            raise ModelLoadError(f"{directory}: tensors differ from {first_dir}'s (e.g. {extra})")
        for name, tensor in state.items():
            ref = states[0][name]
            if tensor.shape != ref.shape:
                raise ModelLoadError(f"{directory}: tensor {name} has shape {tuple(tensor.shape)}, "
                                     f"{first_dir} has {tuple(ref.shape)}")
            if not tensor.is_floating_point() and not torch.equal(tensor, ref):
                raise ModelLoadError(f"{directory}: integer buffer {name} differs from {first_dir}'s")
    averaged = {}
    for name, ref in states[0].items():
        if ref.is_floating_point():
            averaged[name] = torch.stack([s[name].float() for s in states]).mean(dim=0).to(ref.dtype)
        else:
            averaged[name] = ref.clone()
    soup = copy.copy(first)
    soup.model_ = copy.deepcopy(first.model_)
    soup.model_.load_state_dict(averaged)
    soup.model_.eval()
    soup._runner = None
    soup.temperature_ = 1.0
    meta = {k: v for k, v in first.metadata_.items() if k not in ("calibration", "metrics", "history", "temperature")}
    meta.update(
        model_version=f"{soup.kind}-{weights_digest(soup.model_)}",
        trained_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        averaged_from=[{"directory": str(d), "model_version": m.model_version,
                        "seed": m.metadata_.get("training_args", {}).get("seed")} for d, m in zip(directories, models)],
    )
    soup.metadata_ = meta
    return soup
