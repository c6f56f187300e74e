"""The ceiling on prediction throughput this CPU allows: the model's multiply-accumulates
per sentence-target pair against the matrix-product rate the cores reach.

1. **Work per pair.** From the model's config and the real token counts of the NewsMTSC
   test pairs (test-rw + test-mt, 1,837 pairs, tokenized as ``predict`` does), the
   multiply-accumulates (MACs) of the encoder: per token and layer ``4 h^2`` (Q, K, V,
   output projections) + ``2 h i`` (feed-forward), plus ``2 L h`` for the attention scores
   and their weighted sum over a pair of ``L`` tokens. Embedding lookups, LayerNorm,
   softmax and GELU are left out, so the ceiling below is generous.
2. **Rate of the cores.** Matrix products of the shapes the encoder runs (rows = tokens of a
   batch, ``h x h`` and ``h x i`` weights), best of several repeats:
   - fp32: ``torch.matmul`` with ``--threads`` threads;
   - int8: the faster of ONNX Runtime's ``DynamicQuantizeMatMul`` (the op its dynamic int8
     quantization emits; one one-thread session per core side by side) and torch's dynamically
     quantized ``nn.Linear`` (fbgemm, ``--threads`` threads).
3. **Ceiling** = rate / MACs per pair: the pairs/s if every cycle went into matrix
   products at that rate, with nothing else to do.

    python bench/roofline.py --model work/models/newsmtsc-minilm-target
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = Path("/work/shared/data/newsmtsc")
if (ROOT.parent / "shared" / "data" / "newsmtsc").exists():
    DEFAULT_DATA = ROOT.parent / "shared" / "data" / "newsmtsc"


def encoder_macs(lengths: np.ndarray, *, hidden: int, intermediate: int, layers: int) -> np.ndarray:
    """MACs of a BERT encoder per sequence of ``lengths`` tokens (shape ``(n,)`` -> ``(n,)``)."""
    lengths = np.asarray(lengths, dtype=np.float64)
    per_token = 4 * hidden * hidden + 2 * hidden * intermediate
    attention = 2 * lengths * hidden  # scores (L x L x h) and weighted sum, per token
    return layers * lengths * (per_token + attention)


def best_seconds(run, *, repeats: int) -> float:
    """Fastest of ``repeats`` timed calls of ``run()`` after one untimed warm-up call."""
    from throughput import best_of  # bench/throughput.py, beside this script

    run()
    return best_of(repeats, run)[0]


def fp32_rate(shapes: list[tuple[int, int, int]], *, threads: int, repeats: int) -> float:
    """fp32 MACs/s of ``torch.matmul`` over ``(m, k, n)`` products, run back to back."""
    import torch

    torch.set_num_threads(threads)
    rng = torch.Generator().manual_seed(0)
    pairs = [(torch.randn(m, k, generator=rng), torch.randn(k, n, generator=rng)) for m, k, n in shapes]
    macs = sum(m * k * n for m, k, n in shapes)

    def run():
        for a, b in pairs:
            torch.matmul(a, b)

    return macs / best_seconds(run, repeats=repeats)


def int8_rate(shapes: list[tuple[int, int, int]], *, threads: int, repeats: int) -> dict[str, float]:
    """int8 MACs/s over ``(m, k, n)`` products by the two kernels the int8 paths use:

    - ``onnxruntime``: ``DynamicQuantizeMatMul`` (fp32 activations quantized on the fly x int8
      weights, what ONNX Runtime's dynamic quantization emits), one one-thread session per
      core run side by side (its fastest arrangement here, as in ``bench/throughput.py``);
    - ``torch``: a dynamically quantized ``nn.Linear`` (fbgemm) with ``threads`` threads.
    """
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    import onnx
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    macs = sum(m * k * n for m, k, n in shapes)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory(prefix="slant-roofline-") as tmp:
        workers = []
        for worker in range(threads):
            sessions = {}
            for index, (m, k, n) in enumerate(sorted(set(shapes))):
                weight = numpy_helper.from_array(rng.integers(-127, 128, (k, n), dtype=np.int8), "w")
                scale = numpy_helper.from_array(np.full((n,), 0.01, dtype=np.float32), "s")
                node = helper.make_node("DynamicQuantizeMatMul", ["a", "w", "s"], ["y"], domain="com.microsoft")
                graph = helper.make_graph([node], "mm", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
                                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
                                          initializer=[weight, scale])
                path = Path(tmp) / f"mm{worker}-{index}.onnx"
                onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                                   helper.make_opsetid("com.microsoft", 1)]), path)
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                sessions[(m, k, n)] = (session, rng.standard_normal((m, k)).astype(np.float32))
            workers.append(sessions)

        def run_one(sessions) -> None:
            for shape in shapes:
                session, a = sessions[shape]
                session.run(None, {"a": a})

        with ThreadPoolExecutor(threads) as pool:  # ONNX Runtime releases the GIL while it runs
            onnx_rate = threads * macs / best_seconds(lambda: list(pool.map(run_one, workers)), repeats=repeats)

    torch.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
        layers = {(m, k, n): (torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(k, n)),
                                                                     {torch.nn.Linear}, dtype=torch.qint8),
                              torch.randn(m, k)) for m, k, n in set(shapes)}

    def run_torch() -> None:
        with torch.no_grad():
            for shape in shapes:
                layer, a = layers[shape]
                layer(a)

    return {"onnxruntime": onnx_rate, "torch": macs / best_seconds(run_torch, repeats=repeats)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "work" / "models" / "newsmtsc-minilm-target")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64, help="pairs per batch (rows = batch x mean tokens)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--goal", type=float, default=300.0, help="pairs/s to compare the ceiling with")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "roofline.json")
    ns = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import datasets

    from annotate.newsmtsc import load_newsmtsc
    from models.inputs import from_dataset
    from models.registry import load_model

    splits = load_newsmtsc(ns.data)
    X, _ = from_dataset(datasets.concatenate_datasets([splits["test_rw"], splits["test_mt"]]))
    clf = load_model(ns.model)
    lengths = np.asarray(clf.encode(X).lengths())
    config = clf.model_.config
    hidden, intermediate, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    macs = encoder_macs(lengths, hidden=hidden, intermediate=intermediate, layers=layers)
    per_pair = float(macs.mean())
    rows = round(float(ns.batch_size * lengths.mean()))
    # One layer's products for a batch: Q, K, V, output (h x h), feed-forward in and out.
    shapes = [(rows, hidden, hidden)] * 4 + [(rows, hidden, intermediate), (rows, intermediate, hidden)]
    fp32 = fp32_rate(shapes, threads=ns.threads, repeats=ns.repeats)
    int8_rates = int8_rate(shapes, threads=ns.threads, repeats=ns.repeats)
    int8 = max(int8_rates.values())
    result = {
        "model": clf.model_version, "pairs": len(lengths), "threads": ns.threads,
        "config": {"hidden": hidden, "intermediate": intermediate, "layers": layers},
        "tokens_per_pair": {"mean": float(lengths.mean()), "median": float(np.median(lengths)),
                            "max": int(lengths.max())},
        "macs_per_pair": per_pair, "gemm_rows": rows,
        "fp32_gmacs_per_s": fp32 / 1e9, "int8_gmacs_per_s": int8 / 1e9,
        "int8_gmacs_per_s_by_kernel": {k: v / 1e9 for k, v in int8_rates.items()},
        "fp32_ceiling_pairs_per_s": fp32 / per_pair, "int8_ceiling_pairs_per_s": int8 / per_pair,
        "goal_pairs_per_s": ns.goal,
    }
    print(f"{len(lengths)} pairs, {lengths.mean():.1f} tokens each on average (median {np.median(lengths):.0f}, "
          f"max {lengths.max()}); model {clf.model_version}: {layers} layers, h={hidden}, i={intermediate}")
    print(f"encoder work: {per_pair / 1e6:.0f} M multiply-accumulates per pair")
    kernels = ", ".join(f"{k} {v / 1e9:.1f}" for k, v in int8_rates.items())
    print(f"matrix products ({rows} rows, {ns.threads} threads): fp32 {fp32 / 1e9:.1f} GMAC/s (torch), "
          f"int8 {int8 / 1e9:.1f} GMAC/s (best of: {kernels})")
    print(f"ceiling, matrix products only: fp32 {fp32 / per_pair:.0f} pairs/s, int8 {int8 / per_pair:.0f} pairs/s "
          f"(goal {ns.goal:.0f})")
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
