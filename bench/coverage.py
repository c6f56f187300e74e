"""Coverage of the model's slant intervals in a simulation with known truth.

Each simulated report draws a gold set of G items (true class from the gold prevalence, the
classifier's probabilities for it) and then articles with a known stance mix; the
classifier reads every sentence with a known confusion. Per article it prints whether the
nominal 95% interval contains the article's true score (``values . mix``):

- today: the sentence bootstrap of the mean of ``p(favorable) - p(critical)`` (the
  uncorrected model score, as if the classifier were exact);
- pacc / acc: the error-corrected score of ``annotate.report.correction`` (probabilistic
  and plain adjusted classify-and-count), its interval from sentence x gold resampling.

Also printed: bias and RMSE of the point scores, mean interval width, the coverage of the
article's realised score (the mean of its sentences' true values, what a human labelling
every sentence would give), and how many articles fell back to the raw score because the
gold was degenerate.

    python bench/coverage.py [--gold 100 300 1000] [--reports 200] [--articles 10] [--bootstrap 2000]

The classifier: for a sentence of true class j its probabilities are Dirichlet(kappa *
CONFUSION[j]), so the soft confusion is CONFUSION exactly; it over-predicts favorable and
neutral as the seeds' models do (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from annotate.report.correction import (
    ACC,
    PACC,
    DegenerateConfusionError,
    corrected_mean_ci,
    fit_correction,
)
from annotate.report.scoring import bootstrap_mean_ci

VALUES = np.array([-1.0, 0.0, 1.0])
#: rows: true critical / neutral / favorable; columns: mean predicted probability
CONFUSION = np.array([[0.55, 0.30, 0.15],
                      [0.10, 0.60, 0.30],
                      [0.05, 0.25, 0.70]])
KAPPA = 4.0  # Dirichlet concentration: probability rows as diffuse as a small model's
ARTICLE_MIX = np.array([1.0, 3.0, 1.5])  # Dirichlet of an article's stance mix
GOLD_PREVALENCE = ARTICLE_MIX / ARTICLE_MIX.sum()
SENTENCES = (15, 60)  # sentences per article, uniform


def classify(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Probabilities ``(n, 3)`` of the simulated classifier for true classes ``truth``."""
    alphas = KAPPA * CONFUSION[truth]
    draws = rng.gamma(alphas)
    return draws / draws.sum(axis=1, keepdims=True)


def simulate(gold_size: int, *, reports: int, articles: int, n_resamples: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, gold_size])
    rows: dict[str, list] = {k: [] for k in ("truth", "realised", "today", "today_lo", "today_hi", "pacc", "pacc_lo",
                                             "pacc_hi", "acc", "acc_lo", "acc_hi", "fallback_pacc", "fallback_acc")}
    for _ in range(reports):
        gold_truth = rng.choice(3, size=gold_size, p=GOLD_PREVALENCE)
        gold_probs = classify(gold_truth, rng)
        corrections = {}
        for method in (PACC, ACC):
            try:
                corrections[method] = fit_correction(gold_truth, gold_probs, values=VALUES, method=method,
                                                     n_resamples=n_resamples, rng=rng)
            except DegenerateConfusionError:
                corrections[method] = None
        for _ in range(articles):
            mix = rng.dirichlet(ARTICLE_MIX)
            n = int(rng.integers(SENTENCES[0], SENTENCES[1] + 1))
            truth = rng.choice(3, size=n, p=mix)
            probs = classify(truth, rng)
            raw_values = probs @ VALUES
            rows["truth"].append(float(mix @ VALUES))
            rows["realised"].append(float(VALUES[truth].mean()))
            low, high = bootstrap_mean_ci(raw_values, n_resamples=n_resamples, rng=rng)
            rows["today"].append(float(raw_values.mean()))
            rows["today_lo"].append(low)
            rows["today_hi"].append(high)
            for method in (PACC, ACC):
                correction = corrections[method]
                rows[f"fallback_{method}"].append(correction is None)
                if correction is None:  # the report's fallback: the raw score, flagged uncorrected
                    rows[method].append(float(raw_values.mean()))
                    rows[f"{method}_lo"].append(low)
                    rows[f"{method}_hi"].append(high)
                    continue
                est = corrected_mean_ci(probs, correction, values=VALUES, rng=rng)
                rows[method].append(est.score)
                rows[f"{method}_lo"].append(est.ci_low)
                rows[f"{method}_hi"].append(est.ci_high)
    return {k: np.asarray(v) for k, v in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=int, nargs="+", default=[100, 300, 1000], help="gold set sizes")
    parser.add_argument("--reports", type=int, default=200, help="gold sets drawn per size")
    parser.add_argument("--articles", type=int, default=10, help="articles per gold set")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n = args.reports * args.articles
    print(f"{n} simulated articles per gold size ({args.reports} gold sets x {args.articles} articles), "
          f"{SENTENCES[0]}-{SENTENCES[1]} sentences each, {args.bootstrap} resamples, nominal 95%")
    print(f"{'gold':>5} {'estimate':>8} {'coverage':>9} {'(realised)':>10} {'width':>6} {'bias':>7} {'rmse':>6} "
          f"{'fallback':>8}")
    for gold in args.gold:
        started = time.perf_counter()
        r = simulate(gold, reports=args.reports, articles=args.articles, n_resamples=args.bootstrap, seed=args.seed)
        for name in ("today", PACC, ACC):
            lo, hi, point = r[f"{name}_lo"], r[f"{name}_hi"], r[name]
            covered = (lo <= r["truth"]) & (r["truth"] <= hi)
            realised = (lo <= r["realised"]) & (r["realised"] <= hi)
            error = point - r["truth"]
            fallback = int(r[f"fallback_{name}"].sum()) if name != "today" else 0
            print(f"{gold:>5} {name:>8} {100 * covered.mean():>8.1f}% {100 * realised.mean():>9.1f}% "
                  f"{(hi - lo).mean():>6.3f} {error.mean():>+7.3f} {np.sqrt((error ** 2).mean()):>6.3f} "
                  f"{fallback:>8}")
        print(f"      ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
