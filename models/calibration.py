"""Temperature scaling (Guo et al., 2017): one scalar T fit on validation logits.

``softmax(logits / T)`` keeps every prediction (argmax unchanged) and only makes the
probabilities honest. The fitted T is stored in the model's ``slant_model.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from models.base import StanceClassifier, softmax
from models.inputs import StanceInput
from models.metrics import negative_log_likelihood

logger = logging.getLogger(__name__)

#: Fewer validation pairs than this leave the temperature at 1 (train and evaluate alike).
MIN_CALIBRATION_PAIRS = 10


def fit_temperature(logits: np.ndarray, y_true: Sequence[int], *, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature minimising the NLL of ``softmax(logits / T)``.

    Args:
        logits: shape ``(n, n_classes)``.
        y_true: shape ``(n,)`` class indices.
        bounds: search interval for T.
    Returns 1.0 for empty input, and when every validation pair is predicted right: the
    NLL then keeps falling as T shrinks, and such a set says nothing about how confident
    the model should be (sharpening toward the bound made test NLL ten times worse on the
    seeds' baseline). The NLL is convex in 1/T, so a
    bounded scalar search over log T finds the optimum.
    """
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=np.float64)
    t = np.asarray(y_true, dtype=np.int64)
    if t.size == 0:
        return 1.0
    if z.shape != (t.size, z.shape[1] if z.ndim == 2 else -1):
        raise ValueError(f"logits must have shape (n, n_classes) with n={t.size}, got {z.shape}")
    if (z.argmax(axis=1) == t).all():
        # Every pair right: the NLL falls without end as T -> 0, no optimum to find.
        logger.warning("temperature scaling: all %d validation pairs are predicted right, so they cannot "
                       "calibrate; keeping T = 1", t.size)
        return 1.0
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(softmax(z, temperature=float(np.exp(log_t))), t),
        bounds=(float(np.log(bounds[0])), float(np.log(bounds[1]))),
        method="bounded",
    )
    return float(np.exp(result.x))


def calibrate(model: StanceClassifier, X_val: Sequence[StanceInput], y_val: Sequence[str]) -> dict[str, float]:
    """Fit ``model.temperature_`` on validation pairs; returns NLL/ECE before and after.

    The model is changed in place (save it afterwards to keep the temperature).
    """
    from models.metrics import expected_calibration_error

    y = model.label_indices(y_val)
    logits = model.logits(X_val)
    before = softmax(logits)
    temperature = fit_temperature(logits, y)
    after = softmax(logits, temperature=temperature)
    model.temperature_ = temperature
    model.metadata_["temperature"] = temperature
    return {
        "temperature": temperature,
        "nll_before": negative_log_likelihood(before, y),
        "nll_after": negative_log_likelihood(after, y),
        "ece_before": expected_calibration_error(before, y),
        "ece_after": expected_calibration_error(after, y),
    }
