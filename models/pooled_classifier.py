"""A sentence-pair classifier head that pools token vectors instead of reading ``[CLS]``.

all-MiniLM-L6-v2 was trained as a sentence encoder with *mean pooling*; its ``[CLS]``
vector and pooler were never trained for that objective, so a head on mean-pooled tokens
starts from a representation the encoder already produces well. ``"mean+target"`` also
pools the tokens of the marked target mention (``<t> ... </t>``, or the second segment
when the sentence has no marked mention, as for engagement), the target-dependent
representation of BERT-TD-style models, so the head sees *whose* stance it classifies.

Pooling modes (``TrainingArguments.pooling``):
    ``"cls"``          the checkpoint's own ``AutoModelForSequenceClassification`` head;
    ``"mean"``         mean of all non-padding tokens;
    ``"mean+target"``  that mean concatenated with the mean of the target tokens.

Saved as the encoder's ``save_pretrained`` files (``model.safetensors``, ``config.json``)
plus ``head.safetensors`` for the dropout-linear head.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

POOLINGS = ("cls", "mean", "mean+target")
HEAD_FILE = "head.safetensors"


def target_token_mask(input_ids: list[int], token_type_ids: list[int] | None, *,
                      start_ids: list[int], end_ids: list[int],
                      sequence_ids: list[int | None] | None = None) -> list[int]:
    """1 for tokens strictly inside ``start_ids ... end_ids`` marker runs, else 0.

    When no complete marker pair is found (engagement pairs, or a mention cut off by
    truncation), the second segment's text tokens are the target instead: those whose
    ``sequence_ids`` entry is 1 (a fast tokenizer's ``sequence_ids(i)``: None for special
    tokens), or without them, the token type 1 tokens less the closing ``[SEP]``. The first
    works for models without token types too (RoBERTa). Returns a list as long as ``input_ids``.
    """
    n, mask = len(input_ids), [0] * len(input_ids)
    i, found = 0, False
    ls, le = len(start_ids), len(end_ids)
    while i + ls <= n:
        if input_ids[i:i + ls] == start_ids:
            j = i + ls
            while j + le <= n and input_ids[j:j + le] != end_ids:
                j += 1
            if j + le > n:
                break
            for k in range(i + ls, j):
                mask[k] = 1
            found = found or j > i + ls
            i = j + le
        else:
            i += 1
    if not found and sequence_ids is not None:
        for k, segment in enumerate(sequence_ids):
            if segment == 1:
                mask[k] = 1
    elif not found and token_type_ids is not None:
        second = [k for k, t in enumerate(token_type_ids) if t == 1]
        for k in second[:-1]:  # drop the closing [SEP]
            mask[k] = 1
    return mask


def _encoder(path: str | Path):
    """The checkpoint's encoder without its pooler (the head pools tokens itself).

    BERT-like classes take ``add_pooling_layer``; others (DistilBERT, ...) have no pooler
    and refuse the argument.
    """
    import transformers.utils.logging as hf_logging
    from transformers import AutoModel

    # Leaving the checkpoint's pooler out is the point; transformers would print it as a
    # table of UNEXPECTED keys that reads like a fault (the CLI silences transformers anyway).
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        try:
            return AutoModel.from_pretrained(path, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(path)
    finally:
        hf_logging.set_verbosity(verbosity)


def build(base: str, *, pooling: str, n_labels: int, id2label: dict[int, str]) -> Any:
    """A fresh :class:`PooledPairClassifier` over the encoder in ``base``.

    If ``base`` is itself a saved pooled model with the same pooling and label count, its
    head is loaded too (continued training, e.g. after ``--pretrain``).
    """
    encoder = _encoder(base)
    model = pooled_pair_classifier()(encoder, pooling=pooling, n_labels=n_labels)
    model.set_labels(id2label)
    head = Path(base) / HEAD_FILE
    if head.is_file():
        try:
            model.load_head(head)
        except ValueError as exc:
            # Another pooling or label count: only the encoder carries over.
            log.warning("not continuing from %s's head (%s); the head starts fresh", base, exc)
    return model


def load(directory: Path, *, pooling: str) -> Any:
    """A saved :class:`PooledPairClassifier` (encoder files plus :data:`HEAD_FILE`)."""
    encoder = _encoder(directory)
    n_labels = len(encoder.config.id2label)
    model = pooled_pair_classifier()(encoder, pooling=pooling, n_labels=n_labels)
    model.load_head(directory / HEAD_FILE, strict=True)
    return model


class _Output:
    __slots__ = ("logits",)

    def __init__(self, logits) -> None:
        self.logits = logits


_CLASS: Any = None


def pooled_pair_classifier() -> Any:
    """The ``PooledPairClassifier`` torch module class (defined on first use: torch is
    imported only then, never when this module is imported)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _define_class()
    return _CLASS


def _define_class() -> Any:
    import torch

    class PooledPairClassifier(torch.nn.Module):
        """Encoder + pooling + dropout + linear; ``forward`` returns an object with ``.logits``.

        Shapes: ``input_ids``, ``attention_mask``, ``token_type_ids``, ``target_mask`` are
        ``(batch, seq)``; logits are ``(batch, n_labels)``.
        """

        def __init__(self, encoder, *, pooling: str, n_labels: int) -> None:
            super().__init__()
            if pooling not in POOLINGS or pooling == "cls":
                raise ValueError(f"pooling must be one of {POOLINGS[1:]} here, got {pooling!r}")
            self.encoder = encoder
            # DistilBERT and others have no segment embeddings and refuse token_type_ids.
            self._takes_token_types = "token_type_ids" in inspect.signature(encoder.forward).parameters
            self.config = encoder.config
            self.pooling = pooling
            hidden = encoder.config.hidden_size
            parts = 2 if pooling == "mean+target" else 1
            self.dropout = torch.nn.Dropout(getattr(encoder.config, "hidden_dropout_prob", 0.1))
            self.classifier = torch.nn.Linear(parts * hidden, n_labels)

        def set_labels(self, id2label: dict[int, str]) -> None:
            self.config.id2label = dict(id2label)
            self.config.label2id = {v: k for k, v in id2label.items()}

        def features(self, input_ids, attention_mask, token_type_ids=None, target_mask=None):
            """What the head reads: the pooled vectors, ``(batch, parts * hidden)``."""
            segments = {"token_type_ids": token_type_ids} if self._takes_token_types else {}
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **segments).last_hidden_state
            pooled = [_masked_mean(hidden, attention_mask)]
            if self.pooling == "mean+target":
                if target_mask is None:
                    raise ValueError("mean+target pooling needs the target_mask of each pair")
                pooled.append(_masked_mean(hidden, target_mask))
            return torch.cat(pooled, dim=-1)

        def forward(self, input_ids, attention_mask, token_type_ids=None, target_mask=None):
            pooled = self.features(input_ids, attention_mask, token_type_ids, target_mask)
            return _Output(self.classifier(self.dropout(pooled)))

        def save_pretrained(self, directory, **kwargs) -> None:
            from safetensors.torch import save_file

            self.encoder.save_pretrained(directory, **kwargs)
            state = {k: v.detach().contiguous() for k, v in self.classifier.state_dict().items()}
            save_file(state, str(Path(directory) / HEAD_FILE), metadata={"pooling": self.pooling})

        def load_head(self, path: Path, *, strict: bool = False) -> None:
            from safetensors.torch import load_file

            state = load_file(str(path))
            own = self.classifier.state_dict()
            if any(k not in state or state[k].shape != v.shape for k, v in own.items()):
                shapes = {k: tuple(v.shape) for k, v in state.items()}
                raise ValueError(f"{path}: head tensors {shapes} do not fit this model "
                                 f"({ {k: tuple(v.shape) for k, v in own.items()} })")
            self.classifier.load_state_dict(state, strict=strict)

    def _masked_mean(hidden, mask):
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

    return PooledPairClassifier
