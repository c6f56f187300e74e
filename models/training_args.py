"""The one documented set of transformer training arguments."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from models.pooled_classifier import POOLINGS


@dataclass
class TrainingArguments:
    """How :class:`models.transformer.TransformerStanceClassifier` is fine-tuned.

    Defaults are the settings used for the NewsMTSC benchmark (``bench/newsmtsc.py``),
    chosen for a 22M-parameter MiniLM on a 2-core CPU.

    Attributes:
        learning_rate: peak AdamW learning rate, reached after the warm-up.
        epochs: maximum passes over the training data.
        batch_size: training pairs per optimiser step.
        eval_batch_size: pairs per forward pass when validating during training (prediction
            uses length-sorted batches of ``models.transformer.INFERENCE_BATCH_SIZE``).
        max_length: token limit of the sentence pair (the sentence is truncated first).
        warmup_ratio: share of all steps spent warming up linearly; the rest decays linearly to 0.
        weight_decay: AdamW weight decay (not applied to biases and LayerNorm weights).
        patience: stop after this many evaluations without a better validation macro-F1.
        evals_per_epoch: validation evaluations per epoch (the best one is kept).
        seed: seeds Python, numpy and torch, and the batch order.
        threads: torch intra-op threads (the machine has 2 cores).
        bucket_size: batches drawn from one length-sorted pool (length bucketing keeps
            padding low while batch order stays random).
        label_smoothing: cross-entropy label smoothing.
        class_weight: ``"balanced"`` weighs each class's loss by n / (k * count), so a rare
            stance counts as much as the common one (small, skewed data such as the seeds,
            86% neutral); ``"none"`` weighs every pair equally.
        pooling: what the classification head reads (``models.pooled_classifier``):
            ``"cls"``, the checkpoint's own ``[CLS]`` head; ``"mean"``, the mean of all
            token vectors (how all-MiniLM-L6-v2 was trained to encode sentences); or
            ``"mean+target"`` (default), that mean next to the mean of the marked target's
            tokens: on NewsMTSC's multi-target test set it scored 74.5 +- 0.3 macro-F1
            over 3 seeds against 72.7 for ``"cls"`` (``docs/benchmarks.md``).
        layer_lr_decay: learning-rate factor per encoder layer counted down from the top
            (layer-wise decay): the head and the top layer train at ``learning_rate``, the
            layer below at ``learning_rate * layer_lr_decay``, the embeddings at
            ``learning_rate * layer_lr_decay ** n_layers``. 1.0 (default) trains all alike.
        ema_decay: keep an exponential moving average of the weights with this decay per
            step and validate, select and save the average instead of the raw weights
            (0.0, default, turns it off; 0.99-0.999 are usual values).
        rdrop_alpha: R-Drop (Liang et al., 2021): each batch is run twice with different
            dropout and the loss adds ``rdrop_alpha`` times the symmetric KL divergence
            between the two predictions (0.0, default, turns it off; 0.5-5 are usual). A
            step then costs about twice the compute.
        engagement_phrasing: how the engagement target is put to the model
            (``models.inputs.ENGAGEMENT_PHRASINGS``): ``"motion"`` (default), a debate motion in
            words, the shape of the topic-stance transfer data's targets; ``"description"``, the
            short description models saved before it read.
        encoder: ``"fine-tune"`` (default) trains the encoder and head with AdamW;
            ``"frozen"`` keeps the encoder's weights and fits the linear head as a logistic
            regression on the pooled features (one forward pass over the data, no epochs: the
            optimiser settings above do not apply). Needs a pooled head.
        head_c: with ``encoder="frozen"``, the logistic regression's inverse L2 strength.
        max_grad_norm: gradient clipping.
        max_steps: stop after this many steps (0 = no limit; for tests and smoke runs).

    Raises:
        ValueError: a value out of range (counts below 1, a learning rate or gradient norm
            that is not positive, ratios outside [0, 1), an unknown pooling or class weight).
        show_progress: show a tqdm progress bar.
    """

    learning_rate: float = 5e-5
    epochs: int = 4
    batch_size: int = 32
    eval_batch_size: int = 128
    max_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    patience: int = 3
    evals_per_epoch: int = 2
    seed: int = 42
    threads: int = 2
    bucket_size: int = 50
    label_smoothing: float = 0.0
    class_weight: str = "none"
    pooling: str = "mean+target"
    layer_lr_decay: float = 1.0
    ema_decay: float = 0.0
    rdrop_alpha: float = 0.0
    max_grad_norm: float = 1.0
    max_steps: int = 0
    engagement_phrasing: str = "motion"
    encoder: str = "fine-tune"
    head_c: float = 0.1
    show_progress: bool = True

    def __post_init__(self) -> None:
        at_least_one = ("epochs", "batch_size", "eval_batch_size", "max_length", "patience", "evals_per_epoch",
                        "threads", "bucket_size")
        for name in at_least_one:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("seed", "max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        floats = ("learning_rate", "warmup_ratio", "weight_decay", "label_smoothing", "layer_lr_decay", "ema_decay",
                  "rdrop_alpha", "max_grad_norm")
        for name in floats:  # NaN slips past every comparison below, and inf trains to inf
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        for name in ("warmup_ratio", "label_smoothing"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if not self.max_grad_norm > 0:  # a norm of 0 would zero every gradient
            raise ValueError(f"max_grad_norm must be > 0, got {self.max_grad_norm!r}")
        for name in ("weight_decay", "max_steps", "rdrop_alpha", "seed"):  # numpy refuses negative seeds
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.class_weight not in ("none", "balanced"):
            raise ValueError(f"class_weight must be 'none' or 'balanced', got {self.class_weight!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got {self.pooling!r}")
        from models.inputs import ENGAGEMENT_PHRASINGS

        if self.engagement_phrasing not in ENGAGEMENT_PHRASINGS:
            raise ValueError(f"engagement_phrasing must be one of {', '.join(ENGAGEMENT_PHRASINGS)}; "
                             f"got {self.engagement_phrasing!r}")
        if self.encoder not in ("fine-tune", "frozen"):
            raise ValueError(f"encoder must be 'fine-tune' or 'frozen', got {self.encoder!r}")
        if self.encoder == "frozen" and self.pooling == "cls":
            raise ValueError("encoder='frozen' needs pooling 'mean' or 'mean+target' (a linear head on pooled features)")
        if isinstance(self.head_c, bool) or not isinstance(self.head_c, (int, float)) or not self.head_c > 0 \
                or not math.isfinite(self.head_c):
            raise ValueError(f"head_c must be a finite number > 0, got {self.head_c!r}")
        if not 0.0 < self.layer_lr_decay <= 1.0:
            raise ValueError(f"layer_lr_decay must be in (0, 1], got {self.layer_lr_decay!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingArguments:
        known = cls.field_names()
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training arguments {unknown}; valid: {sorted(known)}")
        return cls(**data)
