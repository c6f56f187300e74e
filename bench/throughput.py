"""Prediction throughput (sentence-target pairs/s) of the transformer on this machine, per inference path.

Paths measured, each on the same pairs and the same number of cores:
  fp32-plain          torch fp32, pairs in file order, batches padded to their longest pair
  fp32-bucketed       torch fp32, length-sorted batches (what `predict` does)
  int8-bucketed       torch dynamic int8 quantization of the Linear layers, one scale per matrix
  int8pc-bucketed     the same with one scale per output channel (the classifier's "int8" runtime)
  int8pc-2workers     int8pc, two batches at a time on two Python threads with one torch thread each
  onnx-fp32           ONNX Runtime on the exported graph after its BERT fusions (Attention,
                      SkipLayerNormalization, BiasGelu, EmbedLayerNormalization)
  onnx-int8pc         that graph after onnxruntime dynamic int8 quantization (per channel)
  onnx-int8pc-2workers  the same, two sessions with one thread each
  onnx-static-int8    static int8 (QOperator, per channel, activation scales fixed by percentile
                      calibration on 256 NewsMTSC training pairs) of the unfused graph, feed-forward
                      outputs, attention score products and the head left in fp32; two one-thread
                      sessions. Fixed scales make a pair's scores independent of its batch mates
                      (checked below with the pairs in chunks of 1 and 256)
  slant-default       a model loaded with load_model's defaults (fp32), timed through its public API
  slant-int8          the same loaded with runtime="int8"; its macro-F1 is also measured with the
                      pairs handed over in chunks of 64 and 256 (dynamic int8 scales activations
                      per batch, so a pair's scores depend on its batch mates)
Throughput includes tokenization. Macro-F1 of every path is measured on the same labelled
pairs (NewsMTSC test-rw + test-mt, 1,837 pairs), and the fastest path whose macro-F1 is
within 0.5 points of fp32 is reported as the one to keep.

    python bench/throughput.py --model work/models/newsmtsc-minilm
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = Path("/work/shared/data/newsmtsc")
if (ROOT.parent / "shared" / "data" / "newsmtsc").exists():
    DEFAULT_DATA = ROOT.parent / "shared" / "data" / "newsmtsc"


def torch_forward(model):
    from models.transformer_training import logits_fn

    return logits_fn(model)


def onnx_forward(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}

    def forward(ids, mask, types, target=None):
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": types.numpy()}
        if "target_mask" in names:
            feed["target_mask"] = target.numpy()
        return session.run(["logits"], feed)[0]

    return forward


def export_onnx(clf, directory: Path) -> Path:
    """The classifier's graph with eager attention (the form ONNX Runtime's BERT fusions
    recognise), then fused by ``onnxruntime.transformers.optimizer``."""
    import copy

    import torch
    from onnxruntime.transformers import optimizer

    from models.transformer_training import model_inputs

    model = copy.deepcopy(clf.model_).eval()
    encoder = getattr(model, "encoder", None) if clf.pooling_ != "cls" else model
    encoder.set_attn_implementation("eager")
    names = ["input_ids", "attention_mask", "token_type_ids"] + (["target_mask"] if clf.pooling_ == "mean+target" else [])

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *tensors):
            return self.inner(**model_inputs(*tensors)).logits

    ids = torch.ones((2, 16), dtype=torch.long)
    example = (ids, torch.ones_like(ids), torch.zeros_like(ids), torch.ones_like(ids))[:len(names)]
    axes = {0: "batch", 1: "sequence"}
    raw = directory / "model.onnx"
    torch.onnx.export(Logits(model), example, str(raw), input_names=names, output_names=["logits"],
                      dynamic_axes={**{n: axes for n in names}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    config = clf.model_.config
    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, opt_level=1)
    path = directory / "model.fused.onnx"
    fused.save_model_to_file(str(path))
    return path


def quantize_onnx(path: Path, *, per_channel: bool = True) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name("model.int8pc.onnx" if per_channel else "model.int8.onnx")
    # DefaultTensorType: the fused BERT ops hide some tensor types from shape inference.
    quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8, per_channel=per_channel,
                     extra_options={"DefaultTensorType": 1})
    return out


# Kept in fp32 by the static path: the feed-forward output projections (their GELU inputs have
# a few large values), the activation-by-activation attention products, and the pooling/head.
STATIC_FP32_NODES = r"output/dense|self/MatMul|^/inner/(classifier|pool)|^/inner/MatMul"


def quantize_onnx_static(raw: Path, clf, calibration, *, length: int = 96) -> Path:
    """Static int8 of the unfused graph ``raw``, scales from ``calibration`` (StanceInputs).

    The percentile calibrator needs every batch in one shape, so batches are padded (or cut)
    to ``length`` tokens."""
    import re

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    graph = onnx.load(str(raw)).graph
    inputs = {i.name for i in graph.input}
    exclude = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and re.search(STATIC_FP32_NODES, n.name)]
    encoded, pad = clf.encode(calibration), clf.tokenizer_.pad_token_id

    def fixed(tensor, value):
        array = tensor.numpy()[:, :length]
        return np.pad(array, ((0, 0), (0, length - array.shape[1])), constant_values=value)

    feeds = []
    for start in range(0, len(calibration), 16):
        ids, mask, types, target = encoded.batch(np.arange(start, min(start + 16, len(calibration))), pad_id=pad)
        feed = {"input_ids": fixed(ids, pad), "attention_mask": fixed(mask, 0), "token_type_ids": fixed(types, 0),
                "target_mask": fixed(target, 0)}
        feeds.append({k: v for k, v in feed.items() if k in inputs})

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(feeds)

        def get_next(self):
            return next(self.feeds, None)

    out = raw.with_name("model.static-int8.onnx")
    quantize_static(str(raw), str(out), Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.Percentile, op_types_to_quantize=["MatMul", "Gemm"],
                    nodes_to_exclude=exclude, extra_options={"DefaultTensorType": 1})
    return out


def best_of(repeats: int, run):
    """``(fastest seconds, last result)`` of ``repeats`` calls of ``run()``."""
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return min(seconds), result


def forward_all(clf, forwards, X, *, batch_size: int, sort: bool) -> np.ndarray:
    """Logits of tokenization + forward over ``X``; with several ``forwards``, batches run
    concurrently, one per forward (each set up to use its share of the cores)."""
    pad = clf.tokenizer_.pad_token_id
    encoded = clf.encode(X)
    order = np.argsort(encoded.lengths(), kind="stable") if sort else np.arange(len(X))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    out = np.zeros((len(X), len(clf.classes_)), dtype=np.float32)
    if len(forwards) == 1:
        for chunk in chunks:
            out[chunk] = forwards[0](*encoded.batch(chunk, pad_id=pad))
        return out
    with ThreadPoolExecutor(len(forwards)) as pool:
        jobs = [(chunk, pool.submit(forwards[i % len(forwards)], *encoded.batch(chunk, pad_id=pad)))
                for i, chunk in enumerate(chunks)]
        for chunk, job in jobs:
            out[chunk] = job.result()
    return out


def measure(clf, forwards, X, truth, *, batch_size: int, sort: bool, repeats: int) -> dict:
    """Pairs/s of :func:`forward_all` over ``X`` (best of ``repeats``) and macro-F1."""
    from models.metrics import macro_f1

    warm = clf.encode(X[:8])
    for forward in forwards:
        forward(*warm.batch(np.arange(len(warm)), pad_id=clf.tokenizer_.pad_token_id))
    best, logits = best_of(repeats, lambda: forward_all(clf, forwards, X, batch_size=batch_size, sort=sort))
    return {"pairs_per_s": len(X) / best, "seconds": best,
            "macro_f1": macro_f1(truth, logits.argmax(axis=1), n_classes=len(clf.classes_)),
            "predictions": logits.argmax(axis=1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "work" / "models" / "newsmtsc-minilm")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pairs (smoke runs)")
    parser.add_argument("--only", default="", help="comma-separated subset of the paths to measure")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime paths")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "throughput.json")
    ns = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import datasets
    import torch

    from annotate.newsmtsc import load_newsmtsc
    from models.inputs import from_dataset
    from models.registry import load_model

    torch.set_num_threads(ns.threads)
    splits = load_newsmtsc(ns.data)
    X, y = from_dataset(datasets.concatenate_datasets([splits["test_rw"], splits["test_mt"]]))
    train_X, _ = from_dataset(splits["train"])
    calibration = [train_X[i] for i in np.random.default_rng(0).choice(len(train_X), 256, replace=False)]
    if ns.limit:
        X, y = X[:ns.limit], y[:ns.limit]
    clf = load_model(ns.model, runtime="fp32")
    truth = clf.label_indices(y)
    print(f"{len(X)} pairs, {ns.threads} threads, batch {ns.batch_size}, model {clf.model_version}")

    fp32 = clf.model_.eval()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
        int8 = torch.ao.quantization.quantize_dynamic(fp32, {torch.nn.Linear}, dtype=torch.qint8)
        # Per-channel weight scales: one scale per output row instead of one per matrix.
        int8_pc = torch.ao.quantization.quantize_dynamic(
            fp32, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8)
    # name -> (forwards, torch threads per forward, length-sorted?)
    paths = {
        "fp32-plain": ([torch_forward(fp32)], ns.threads, False),
        "fp32-bucketed": ([torch_forward(fp32)], ns.threads, True),
        "int8-bucketed": ([torch_forward(int8)], ns.threads, True),
        "int8pc-bucketed": ([torch_forward(int8_pc)], ns.threads, True),
        "int8pc-2workers": ([torch_forward(int8_pc)] * 2, max(1, ns.threads // 2), True),
    }
    notes: dict[str, str] = {}
    tmp = Path(tempfile.mkdtemp(prefix="slant-onnx-"))
    try:
        if ns.no_onnx:
            raise RuntimeError("skipped (--no-onnx)")
        started = time.perf_counter()
        fused = export_onnx(clf, tmp)
        quantized = quantize_onnx(fused)
        static = quantize_onnx_static(fused.with_name("model.onnx"), clf, calibration)
        notes["onnx_build_seconds"] = f"{time.perf_counter() - started:.1f}"
        half = max(1, ns.threads // 2)
        paths["onnx-fp32"] = ([onnx_forward(fused, ns.threads)], ns.threads, True)
        paths["onnx-int8pc"] = ([onnx_forward(quantized, ns.threads)], ns.threads, True)
        paths["onnx-int8pc-2workers"] = ([onnx_forward(quantized, half), onnx_forward(quantized, half)], half, True)
        paths["onnx-static-int8"] = ([onnx_forward(static, half), onnx_forward(static, half)], half, True)
    except Exception as exc:  # noqa: BLE001  (report what did not work instead of failing the benchmark)
        notes["onnx"] = f"{type(exc).__name__}: {exc}"[:300]
    if ns.only:
        paths = {k: v for k, v in paths.items() if k in ns.only.split(",") or k == "fp32-plain"}

    results = {}
    # What users get: a model loaded with the defaults (fp32 runtime, one batch per torch
    # thread), through the public predict_proba, batch size as below.
    default = load_model(ns.model)
    torch.set_num_threads(ns.threads)
    default.predict_proba(X[:8])
    own_batch_seconds, _ = best_of(ns.repeats, lambda: default.predict_proba(X))
    from models.metrics import macro_f1 as _macro_f1

    seconds, default_logits = best_of(ns.repeats, lambda: default.logits(X, batch_size=ns.batch_size))
    default_pred = default_logits.argmax(axis=1)
    results["slant-default"] = {"pairs_per_s": len(X) / seconds, "seconds": seconds,
                                "pairs_per_s_default_batch": len(X) / own_batch_seconds,
                                "macro_f1": _macro_f1(truth, default_pred, n_classes=len(clf.classes_)),
                                "predictions": default_pred}
    r = results["slant-default"]
    print(f"{'slant-default':<15} {r['pairs_per_s']:8.1f} pairs/s   macro-F1 {100 * r['macro_f1']:.2f}   "
          f"(load_model defaults, batch {ns.batch_size}; {r['pairs_per_s_default_batch']:.1f} pairs/s with the "
          f"model's own batch size)", flush=True)
    # The opt-in int8 runtime, and how much its macro-F1 moves with the pairs' batch mates.
    int8 = load_model(ns.model, runtime="int8")
    int8.logits(X[:8])
    seconds, int8_logits = best_of(ns.repeats, lambda: int8.logits(X, batch_size=ns.batch_size))
    int8_pred = int8_logits.argmax(axis=1)
    chunked = {}
    for chunk in (64, 256):
        pred = np.concatenate([int8.logits(X[i:i + chunk], batch_size=ns.batch_size)
                               for i in range(0, len(X), chunk)]).argmax(axis=1)
        chunked[chunk] = {"macro_f1": _macro_f1(truth, pred, n_classes=len(clf.classes_)),
                          "labels_changed": int(np.sum(pred != int8_pred))}
    results["slant-int8"] = {"pairs_per_s": len(X) / seconds, "seconds": seconds,
                             "macro_f1": _macro_f1(truth, int8_pred, n_classes=len(clf.classes_)),
                             "macro_f1_in_chunks": chunked, "predictions": int8_pred}
    r = results["slant-int8"]
    spread = ", ".join(f"chunks of {k}: {100 * v['macro_f1']:.2f} ({v['labels_changed']} labels changed)"
                       for k, v in chunked.items())
    print(f"{'slant-int8':<15} {r['pairs_per_s']:8.1f} pairs/s   macro-F1 {100 * r['macro_f1']:.2f}   ({spread})",
          flush=True)
    for name, (forwards, threads, sort) in paths.items():
        torch.set_num_threads(threads)
        r = measure(clf, forwards, X, truth, batch_size=ns.batch_size, sort=sort, repeats=ns.repeats)
        results[name] = r
        extra = ""
        if name == "onnx-static-int8":  # fixed scales: chunking must not move a single label
            r["macro_f1_in_chunks"] = {}
            for chunk in (1, 256):
                pred = np.concatenate([forward_all(clf, forwards, X[i:i + chunk], batch_size=ns.batch_size, sort=sort)
                                       for i in range(0, len(X), chunk)]).argmax(axis=1)
                r["macro_f1_in_chunks"][chunk] = {"macro_f1": _macro_f1(truth, pred, n_classes=len(clf.classes_)),
                                                  "labels_changed": int(np.sum(pred != r["predictions"]))}
            extra = "   (" + ", ".join(f"chunks of {k}: {v['labels_changed']} labels changed"
                                       for k, v in r["macro_f1_in_chunks"].items()) + ")"
        print(f"{name:<15} {r['pairs_per_s']:8.1f} pairs/s   macro-F1 {100 * r['macro_f1']:.2f}{extra}", flush=True)
    reference = results.get("fp32-plain") or next(iter(results.values()))
    reference_predictions = reference["predictions"]
    for r in results.values():
        r["agreement_with_fp32"] = float(np.mean(r["predictions"] == reference_predictions))
    for r in results.values():
        del r["predictions"]
    # A path qualifies if its macro-F1 stays within 0.5 points however the pairs are batched.
    ok = {n: r for n, r in results.items()
          if min([r["macro_f1"], *(c["macro_f1"] for c in r.get("macro_f1_in_chunks", {}).values())])
          >= reference["macro_f1"] - 0.005}
    keep = max(ok, key=lambda n: ok[n]["pairs_per_s"])
    print(f"kept: {keep} ({results[keep]['pairs_per_s']:.1f} pairs/s, macro-F1 {100 * results[keep]['macro_f1']:.2f} "
          f"vs fp32 {100 * reference['macro_f1']:.2f}; {results[keep]['pairs_per_s'] / reference['pairs_per_s']:.1f}x)")
    for key, note in notes.items():
        print(f"note: {key}: {note}")
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps({"n_pairs": len(X), "threads": ns.threads, "batch_size": ns.batch_size,
                                  "model_version": clf.model_version, "results": results, "kept": keep,
                                  "notes": notes}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
