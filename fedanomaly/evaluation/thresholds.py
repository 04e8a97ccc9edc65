"""Thresholds on anomaly scores.

Deployable thresholds are fixed without the test labels:

- ``validation``: eq. 33 of seed 002, the midpoint of the mean score of normal and of
  anomalous steps of a validation part with injected anomalies;
- ``pot``: peaks over threshold on the training scores (Siffer et al., KDD 2017): a generalized
  Pareto law fitted by maximum likelihood to the excesses over the ``level`` quantile gives the
  score exceeded with probability ``risk``;
- ``sigma``: mean plus ``beta`` standard deviations of the training scores.

The oracle threshold (best F1 on the test labels, :func:`fedanomaly.evaluation.pointwise.oracle_f1`)
is reported beside them, labelled as such, only for comparison with papers that use it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.stats import genpareto

DeployableThreshold = Literal["validation", "pot", "sigma"]
DEPLOYABLE_THRESHOLDS: tuple[DeployableThreshold, ...] = ("validation", "pot", "sigma")
MIN_EXCESSES = 10


def validation_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Eq. 33: (mean score of normal steps + mean score of anomalous steps) / 2.

    Without anomalous validation steps the threshold is the normal mean plus three standard
    deviations.
    """
    normal = scores[labels == 0]
    anomalous = scores[labels != 0]
    if anomalous.size == 0:
        return sigma_threshold(normal, 3.0)
    return float((normal.mean() + anomalous.mean()) / 2)


def sigma_threshold(scores: np.ndarray, beta: float) -> float:
    """mu + beta * sigma of ``scores``."""
    return float(scores.mean() + beta * scores.std())


def pot_threshold(scores: np.ndarray, risk: float, level: float) -> float:
    """The score exceeded with probability ``risk`` under a generalized Pareto tail.

    Parameters
    ----------
    scores
        Training scores (normal behaviour).
    risk
        Target probability of a false alarm per step, q.
    level
        Quantile of ``scores`` above which the tail is fitted, t.

    Notes
    -----
    With ``N_t`` excesses ``y = s - t`` over ``n`` scores and fitted shape ``c`` and scale
    ``sigma``, the threshold is ``t + sigma / c * ((q n / N_t) ** -c - 1)``, or
    ``t - sigma * log(q n / N_t)`` for ``c = 0``. With fewer than 10 excesses the tail cannot be
    fitted and the largest training score is used.
    """
    initial = float(np.quantile(scores, level))
    excesses = scores[scores > initial] - initial
    if excesses.size < MIN_EXCESSES:
        return float(scores.max())
    shape, _, scale = genpareto.fit(excesses, floc=0.0)
    ratio = risk * scores.size / excesses.size
    if abs(shape) < 1e-8:
        return float(initial - scale * np.log(ratio))
    return float(initial + scale / shape * (ratio**-shape - 1))
