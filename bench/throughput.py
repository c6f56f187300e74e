"""Prediction throughput (sentence-target pairs/s) of the transformer on this machine, per inference path.

Paths measured, each on the same pairs and the same thread count:
  fp32-plain     torch fp32, pairs in file order, batches padded to their longest pair
  fp32-bucketed  torch fp32, length-sorted batches (what `predict` does)
  int8-bucketed  torch dynamic int8 quantization of the Linear layers, length-sorted
  onnx-fp32      ONNX Runtime, exported with torch.onnx.export, length-sorted
  onnx-int8      ONNX Runtime after onnxruntime.quantization.quantize_dynamic, length-sorted
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = Path("/work/shared/data/newsmtsc")
if (ROOT.parent / "shared" / "data" / "newsmtsc").exists():
    DEFAULT_DATA = ROOT.parent / "shared" / "data" / "newsmtsc"


def torch_forward(model):
    import torch

    def forward(ids, mask, types):
        with torch.inference_mode():
            return model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits.float().numpy()

    return forward


def onnx_forward(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def forward(ids, mask, types):
        return session.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                         "token_type_ids": types.numpy()})[0]

    return forward


def export_onnx(model, directory: Path) -> Path:
    import torch

    path = directory / "model.onnx"
    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(path),
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    "logits": {0: "batch"}},
                      opset_version=17, dynamo=False)
    return path


def quantize_onnx(path: Path, *, per_channel: bool = False) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name("model.int8pc.onnx" if per_channel else "model.int8.onnx")
    quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8, per_channel=per_channel)
    return out


def measure(clf, forward, X, truth, *, batch_size: int, sort: bool, repeats: int) -> dict:
    """Pairs/s of tokenization + forward over ``X`` (best of ``repeats``) and macro-F1."""
    from models.metrics import macro_f1
    from models.transformer_training import Encoded

    def run():
        encoded = clf.encode(X)
        order = np.argsort(encoded.lengths(), kind="stable") if sort else np.arange(len(X))
        out = np.zeros((len(X), len(clf.classes_)), dtype=np.float32)
        for i in range(0, len(order), batch_size):
            chunk = order[i:i + batch_size]
            out[chunk] = forward(*encoded.batch(chunk, pad_id=clf.tokenizer_.pad_token_id))
        return out

    run_times, logits = [], None
    forward(*Encoded(clf.encode(X[:8]).input_ids, None).batch(np.arange(8), pad_id=0))  # warm-up
    for _ in range(repeats):
        started = time.perf_counter()
        logits = run()
        run_times.append(time.perf_counter() - started)
    best = min(run_times)
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
    if ns.limit:
        X, y = X[:ns.limit], y[:ns.limit]
    clf = load_model(ns.model, runtime="fp32")
    truth = clf.label_indices(y)
    print(f"{len(X)} pairs, {ns.threads} threads, batch {ns.batch_size}, model {clf.model_version}")

    fp32 = clf.model_.eval()
    int8 = torch.ao.quantization.quantize_dynamic(fp32, {torch.nn.Linear}, dtype=torch.qint8)
    # Per-channel weight scales: one scale per output row instead of one per matrix.
    int8_pc = torch.ao.quantization.quantize_dynamic(
        fp32, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8)
    import copy

    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    paths = {
        "fp32-plain": (torch_forward(fp32), False),
        "fp32-bucketed": (torch_forward(fp32), True),
        "int8-bucketed": (torch_forward(int8), True),
        "int8pc-bucketed": (torch_forward(int8_pc), True),
        "bf16-bucketed": (torch_forward(bf16), True),
    }
    if ns.only:
        paths = {k: v for k, v in paths.items() if k in ns.only.split(",")}
    notes: dict[str, str] = {}
    tmp = Path(tempfile.mkdtemp(prefix="slant-onnx-"))
    try:
        if ns.no_onnx:
            raise RuntimeError("skipped (--no-onnx)")
        onnx_path = export_onnx(fp32, tmp)
        paths["onnx-fp32"] = (onnx_forward(onnx_path, ns.threads), True)
        paths["onnx-int8"] = (onnx_forward(quantize_onnx(onnx_path), ns.threads), True)
        paths["onnx-int8pc"] = (onnx_forward(quantize_onnx(onnx_path, per_channel=True), ns.threads), True)
    except Exception as exc:  # noqa: BLE001  (report what did not work instead of failing the benchmark)
        notes["onnx"] = f"{type(exc).__name__}: {exc}"[:300]

    results = {}
    for name, (forward, sort) in paths.items():
        r = measure(clf, forward, X, truth, batch_size=ns.batch_size, sort=sort, repeats=ns.repeats)
        results[name] = r
        print(f"{name:<15} {r['pairs_per_s']:8.1f} pairs/s   macro-F1 {100 * r['macro_f1']:.2f}", flush=True)
    reference = results.get("fp32-plain") or next(iter(results.values()))
    reference_predictions = reference["predictions"]
    for r in results.values():
        r["agreement_with_fp32"] = float(np.mean(r["predictions"] == reference_predictions))
    for r in results.values():
        del r["predictions"]
    ok = {n: r for n, r in results.items() if r["macro_f1"] >= reference["macro_f1"] - 0.005}
    keep = max(ok, key=lambda n: ok[n]["pairs_per_s"])
    print(f"kept: {keep} ({results[keep]['pairs_per_s']:.1f} pairs/s, macro-F1 {100 * results[keep]['macro_f1']:.2f} "
          f"vs fp32 {100 * reference['macro_f1']:.2f}; {results[keep]['pairs_per_s'] / reference['pairs_per_s']:.1f}x)")
    for key, note in notes.items():
        print(f"note: {key} path failed: {note}")
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps({"n_pairs": len(X), "threads": ns.threads, "batch_size": ns.batch_size,
                                  "model_version": clf.model_version, "results": results, "kept": keep,
                                  "notes": notes}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
