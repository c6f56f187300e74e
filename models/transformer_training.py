"""The torch training loop and batched inference behind ``TransformerStanceClassifier``.

Kept apart from the classifier so the loop reads top to bottom: bucketed batches,
dynamic padding, AdamW with linear warm-up/decay, periodic validation macro-F1, best
weights kept in memory, early stopping.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from models.metrics import accuracy, macro_f1
from models.training_args import TrainingArguments

log = logging.getLogger(__name__)


def bucketed_batches(lengths: Sequence[int], *, batch_size: int, bucket_size: int,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """Random batches of similar-length items.

    Items are shuffled, cut into pools of ``batch_size * bucket_size``, each pool is sorted
    by length and split into batches, and the batches are shuffled: little padding, yet a
    different random order every epoch.
    """
    order = rng.permutation(len(lengths))
    pool = batch_size * max(1, bucket_size)
    lengths = np.asarray(lengths)
    batches: list[np.ndarray] = []
    for i in range(0, len(order), pool):
        chunk = order[i:i + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _batch_tensors(encoded: Sequence[Sequence[int]], types: Sequence[Sequence[int]] | None,
                   targets: Sequence[Sequence[int]] | None, index, pad_id: int):
    import torch

    ids = [encoded[i] for i in index]
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    token_types = torch.zeros((len(ids), width), dtype=torch.long)
    target_mask = torch.zeros((len(ids), width), dtype=torch.long) if targets is not None else None
    for row, i in enumerate(index):
        n = len(encoded[i])
        input_ids[row, :n] = torch.tensor(encoded[i], dtype=torch.long)
        mask[row, :n] = 1
        if types is not None:
            token_types[row, :n] = torch.tensor(types[i], dtype=torch.long)
        if target_mask is not None:
            target_mask[row, :n] = torch.tensor(targets[i], dtype=torch.long)
    return input_ids, mask, token_types, target_mask


def model_inputs(ids, mask, types, target=None) -> dict:
    """Keyword arguments for the model's forward; ``target_mask`` only when there is one
    (the ``"cls"`` head of ``transformers`` does not take it)."""
    inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    if target is not None:
        inputs["target_mask"] = target
    return inputs


def logits_fn(model) -> Callable:
    """``forward(ids, mask, types, target=None) -> (b, k)`` float32 logits of a torch model,
    without autograd: what :func:`batched_logits` runs."""
    import torch

    def forward(ids, mask, types, target=None):
        with torch.inference_mode():
            return model(**model_inputs(ids, mask, types, target)).logits.float().numpy()

    return forward


def features_fn(model) -> Callable:
    """``forward(ids, mask, types, target=None) -> (b, d)`` float32 pooled features of a
    pooled-head model (``PooledPairClassifier.features``), without autograd."""
    import torch

    def forward(ids, mask, types, target=None):
        with torch.inference_mode():
            return model.features(**model_inputs(ids, mask, types, target)).float().numpy()

    return forward


class Encoded:
    """Token ids, token types and (for target pooling) target-token masks of a list of
    pairs, unpadded. ``batch`` pads a subset into ``(ids, attention, types, target)``
    tensors of shape ``(batch, longest)``; ``target`` is ``None`` without masks."""

    def __init__(self, input_ids: list[list[int]], token_type_ids: list[list[int]] | None,
                 target_mask: list[list[int]] | None = None) -> None:
        self.input_ids = input_ids
        self.token_type_ids = token_type_ids
        self.target_mask = target_mask

    def __len__(self) -> int:
        return len(self.input_ids)

    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.input_ids), dtype=np.int64, count=len(self.input_ids))

    def batch(self, index, *, pad_id: int):
        return _batch_tensors(self.input_ids, self.token_type_ids, self.target_mask, index, pad_id)


_PARALLEL_PREDICT = threading.Lock()


def batched_logits(forward: Callable, encoded: Encoded, *, batch_size: int, pad_id: int,
                   progress: bool = False, workers: int = 1) -> np.ndarray:
    """Run ``forward(input_ids, attention_mask, token_type_ids, target_mask) -> (b, k) array`` over
    length-sorted batches and return the logits ``(n, k)`` in the original order.

    With ``workers > 1``, that many batches run at once on Python threads, and torch's
    intra-op pool is narrowed so that workers x threads stays within the cores torch was
    given (restored afterwards). torch releases the GIL inside its kernels; on 2 cores, two
    one-thread workers beat one two-thread forward (``bench/throughput.py``: int8 137 ->
    181 pairs/s) because a small batch's kernels do not split well across threads.
    """
    import torch
    from tqdm.auto import tqdm

    order = np.argsort(encoded.lengths(), kind="stable")
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    out: np.ndarray | None = None
    bar = tqdm(total=len(chunks), desc="predict", unit="batch", disable=not progress)
    threads = torch.get_num_threads()
    workers = max(1, min(workers, threads, len(chunks)))

    def store(chunk, scores):
        nonlocal out
        if out is None:
            out = np.zeros((len(order), scores.shape[1]), dtype=np.float32)
        out[chunk] = scores
        bar.update(1)

    try:
        if workers == 1:
            for chunk in chunks:
                store(chunk, forward(*encoded.batch(chunk, pad_id=pad_id)))
        else:
            from concurrent.futures import ThreadPoolExecutor

            # One parallel predict at a time: each narrows and restores torch's global pool.
            _PARALLEL_PREDICT.acquire()
            threads = torch.get_num_threads()
            torch.set_num_threads(max(1, threads // workers))
            with ThreadPoolExecutor(workers, thread_name_prefix="slant-predict") as pool:
                # At most 2 x workers batches in flight: padded tensors are built lazily.
                pending: list = []
                for chunk in chunks:
                    pending.append((chunk, pool.submit(forward, *encoded.batch(chunk, pad_id=pad_id))))
                    if len(pending) >= 2 * workers:
                        done_chunk, job = pending.pop(0)
                        store(done_chunk, job.result())
                for done_chunk, job in pending:
                    store(done_chunk, job.result())
    finally:
        if workers > 1:
            torch.set_num_threads(threads)
            _PARALLEL_PREDICT.release()
        bar.close()
    return out


def _evaluate(model, encoded: Encoded, labels: np.ndarray, *, batch_size: int, pad_id: int, n_classes: int) -> dict:

    model.eval()
    logits = batched_logits(logits_fn(model), encoded, batch_size=batch_size, pad_id=pad_id)
    pred = logits.argmax(axis=1)
    model.train()
    return {"macro_f1": macro_f1(labels, pred, n_classes=n_classes), "accuracy": accuracy(labels, pred)}


def train_loop(model, train: Encoded, y: np.ndarray, val: tuple[Encoded, np.ndarray] | None, *,
               args: TrainingArguments, n_classes: int, pad_id: int) -> list[dict]:
    """Fine-tune ``model`` in place; returns the evaluation history.

    With validation data, the weights of the best validation macro-F1 are restored at
    the end and training stops after ``args.patience`` evaluations without improvement.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    rng = np.random.default_rng(args.seed)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = steps_per_epoch * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)
    groups = parameter_groups(model, weight_decay=args.weight_decay, learning_rate=args.learning_rate,
                              layer_lr_decay=args.layer_lr_decay)
    optimizer = torch.optim.AdamW(groups, lr=args.learning_rate)
    average = WeightAverage(model, decay=args.ema_decay) if args.ema_decay else None
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * total), total)
    weight = None
    if args.class_weight == "balanced":
        counts = np.bincount(np.asarray(y), minlength=n_classes).astype(np.float64)
        weight = torch.as_tensor(len(y) / (n_classes * np.maximum(counts, 1.0)), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=args.label_smoothing)
    labels = torch.as_tensor(y, dtype=torch.long)
    eval_points = {round(steps_per_epoch * k / max(1, args.evals_per_epoch))
                   for k in range(1, max(1, args.evals_per_epoch) + 1)}

    history: list[dict] = []
    best_f1, best_state, stale, step = -1.0, None, 0, 0
    started = time.perf_counter()
    model.train()
    bar = tqdm(total=total, desc="train", unit="step", disable=not args.show_progress)
    stop = False
    for epoch in range(args.epochs):
        batches = bucketed_batches(train.lengths(), batch_size=args.batch_size, bucket_size=args.bucket_size, rng=rng)
        running = 0.0
        for i, index in enumerate(batches, start=1):
            if args.rdrop_alpha:
                loss = rdrop_loss(model, train.batch(index, pad_id=pad_id), labels[index], loss_fn=loss_fn,
                                  alpha=args.rdrop_alpha)
            else:
                out = model(**model_inputs(*train.batch(index, pad_id=pad_id)))
                loss = loss_fn(out.logits, labels[index])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if average is not None:
                average.update()
            step += 1
            running += loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running / i:.3f}", best_f1=f"{max(best_f1, 0):.3f}")
            last = (args.max_steps and step >= total) or (epoch == args.epochs - 1 and i == len(batches))
            if val is not None and (i in eval_points or last):
                # With a weight average, it is what gets validated and kept.
                with average.swapped_in() if average is not None else contextlib.nullcontext():
                    scores = _evaluate(model, val[0], val[1], batch_size=args.eval_batch_size, pad_id=pad_id,
                                       n_classes=n_classes)
                    improved = scores["macro_f1"] > best_f1
                    if improved:
                        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                record = {"epoch": epoch + i / len(batches), "step": step, "train_loss": running / i,
                          "val_macro_f1": scores["macro_f1"], "val_accuracy": scores["accuracy"],
                          "seconds": round(time.perf_counter() - started, 1)}
                history.append(record)
                log.info("epoch %.2f step %d: loss %.4f, val macro-F1 %.4f, acc %.4f", record["epoch"], step,
                         record["train_loss"], scores["macro_f1"], scores["accuracy"])
                if improved:
                    best_f1, stale = scores["macro_f1"], 0
                else:
                    stale += 1
                    if stale >= args.patience:
                        log.info("early stopping: no better validation macro-F1 in %d evaluations", stale)
                        stop = True
            if stop or (args.max_steps and step >= total):
                stop = True
                break
        if stop:
            break
    bar.close()
    if val is None:
        history.append({"epoch": args.epochs, "step": step, "seconds": round(time.perf_counter() - started, 1)})
    if best_state is not None:
        model.load_state_dict(best_state)
    elif average is not None:
        average.copy_to_model()
    return history


def rdrop_loss(model, tensors, labels, *, loss_fn, alpha: float):
    """R-Drop loss of one batch: the batch goes through ``model`` twice in one forward
    pass (stacked, so dropout differs between the copies); the mean of the two
    ``loss_fn`` values plus ``alpha`` times the symmetric KL divergence of the two
    predicted distributions, averaged over the batch."""
    import torch
    import torch.nn.functional as F

    doubled = [None if t is None else torch.cat([t, t]) for t in tensors]
    logits = model(**model_inputs(*doubled)).logits
    first, second = logits.chunk(2)
    log_p, log_q = F.log_softmax(first, dim=-1), F.log_softmax(second, dim=-1)
    kl = (F.kl_div(log_p, log_q, log_target=True, reduction="batchmean")
          + F.kl_div(log_q, log_p, log_target=True, reduction="batchmean")) / 2
    return (loss_fn(first, labels) + loss_fn(second, labels)) / 2 + alpha * kl


def parameter_groups(model, *, weight_decay: float, learning_rate: float, layer_lr_decay: float = 1.0) -> list[dict]:
    """AdamW parameter groups: no weight decay on biases and LayerNorm weights, and with
    ``layer_lr_decay < 1`` a learning rate that shrinks by that factor per encoder layer
    below the top (embeddings lowest; head, pooler and top layer at ``learning_rate``)."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    layer_numbers = [int(m.group(1)) for n, _ in named if (m := _LAYER.search(n))]
    n_layers = max(layer_numbers) + 1 if layer_numbers else 0

    def depth(name: str) -> int:
        # How many layers below the top this parameter sits; the head counts as the top.
        if (m := _LAYER.search(name)) is not None:
            return n_layers - 1 - int(m.group(1))
        return n_layers if "embeddings" in name else 0

    groups: dict[tuple[int, bool], dict] = {}
    for name, param in named:
        decays = not any(k in name for k in no_decay)
        key = (depth(name) if layer_lr_decay < 1.0 else 0, decays)
        group = groups.setdefault(key, {"params": [], "weight_decay": weight_decay if decays else 0.0,
                                        "lr": learning_rate * layer_lr_decay ** key[0]})
        group["params"].append(param)
    return [groups[k] for k in sorted(groups)]


_LAYER = re.compile(r"\.layer\.(\d+)\.")


class WeightAverage:
    """Exponential moving average of a model's floating-point weights, updated after each
    optimiser step; the decay ramps up as ``min(decay, (1 + t) / (10 + t))`` so the first
    steps are not averaged with the untrained start."""

    def __init__(self, model, *, decay: float):
        self.decay, self.updates = decay, 0
        # state_dict tensors share storage with the model's, and the optimiser and
        # load_state_dict update them in place, so these views stay live for the whole run.
        self.live = [v for v in model.state_dict().values() if v.is_floating_point()]
        self.shadow = [t.detach().clone() for t in self.live]

    def update(self) -> None:
        import torch

        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            torch._foreach_lerp_(self.shadow, self.live, 1.0 - decay)

    def copy_to_model(self) -> None:
        import torch

        with torch.no_grad():
            torch._foreach_copy_(self.live, self.shadow)

    @contextlib.contextmanager
    def swapped_in(self):
        """The averaged weights in the model for the duration of the block."""
        import torch

        saved = [t.detach().clone() for t in self.live]
        self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.live, saved)
