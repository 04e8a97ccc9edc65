"""Thresholds on anomaly scores.

Deployable thresholds are fixed without the test labels:

- ``validation``: eq. 33 of seed 002, the midpoint of the mean score of normal and of
  anomalous steps of a validation part with injected anomalies;
- ``pot``: peaks over threshold on the training scores (Siffer et al., KDD 2017): a generalized
  Pareto law fitted by maximum likelihood to the excesses over the ``level`` quantile gives the
  score exceeded with probability ``risk``;
- ``sigma``: mean plus ``beta`` standard deviations of the training scores;
- ``generated`` (cmsf-attae): eq. 33 without labels: the mean score of the whole validation
  part and the mean step score of CMSF-GAN's generated anomalous windows;
- ``adaptive``: ATTAE's threshold of seed 000, ``theta_t = mu_t + beta * sigma_t`` with the mean
  and standard deviation of the ``window`` scores before step t (the validation part's last
  scores precede the first test steps), so the alarm level follows the load.

The oracle threshold (best F1 on the test labels, :func:`fedanomaly.evaluation.pointwise.oracle_f1`)
is reported beside them, labelled as such, only for comparison with papers that use it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import genpareto

MIN_EXCESSES = 10


def validation_threshold(
    scores: np.ndarray,
    labels: np.ndarray,
    beta: float = 3.0,
    normal_reference: np.ndarray | None = None,
) -> float:
    """Eq. 33: (mean score of normal steps + mean score of anomalous steps) / 2.

    Parameters
    ----------
    scores, labels
        The validation part's step scores and labels (or type codes; 0 is normal).
    beta
        Without anomalous validation steps the threshold is the normal mean plus ``beta``
        standard deviations.
    normal_reference
        Scores that stand for the normal ones where the validation part has no normal step
        (a source whose labels cover all of it): the training part's.

    Returns
    -------
    float
        The threshold; NaN only where neither normal steps nor a reference are given.
    """
    normal = scores[labels == 0]
    anomalous = scores[labels != 0]
    if normal.size == 0 and normal_reference is not None:
        normal = normal_reference
    if anomalous.size == 0:
        return sigma_threshold(normal, beta)
    return float((normal.mean() + anomalous.mean()) / 2) if normal.size else float("nan")


def generated_threshold(scores: np.ndarray, generated: np.ndarray) -> float:
    """(mean score of the validation steps + mean score of generated anomalous windows) / 2:
    eq. 33 without labels. The validation part counts as normal as a whole (its labels are not
    used), the generated windows stand for the anomalies; a window's score is the mean of its
    step scores, as eq. 33 averages steps (its peak would set the cut above most real faults).

    Parameters
    ----------
    scores
        The validation part's step scores.
    generated
        Each generated anomalous window's mean step score.

    Returns
    -------
    float
        The threshold.
    """
    return float((scores.mean() + generated.mean()) / 2)


def sigma_threshold(scores: np.ndarray, beta: float) -> float:
    """mu + beta * sigma of ``scores``.

    Parameters
    ----------
    scores
        Scores taken as normal: the training part's, or the normal validation steps'.
    beta
        Width in standard deviations (population standard deviation).

    Returns
    -------
    float
        The threshold.
    """
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


def adaptive_threshold(
    history: np.ndarray, scores: np.ndarray, window: int, beta: float
) -> np.ndarray:
    """Per-step ``mu_t + beta * sigma_t`` over the ``window`` scores before each step.

    Parameters
    ----------
    history
        Scores that come before ``scores`` (at least one).
    scores
        The scores to threshold, in time order.
    window
        How many past scores make mu_t and sigma_t.
    beta
        Width in standard deviations.
    """
    if len(history) == 0:
        raise ValueError("the adaptive threshold needs at least one score before the first")
    series = pd.Series(np.concatenate([history[-window:], scores]).astype(np.float64))
    past = series.rolling(window, min_periods=1)  # pandas' rolling moments: no cancellation
    means, deviations = past.mean().shift(1), past.std(ddof=0).shift(1)
    offset = len(series) - len(scores)  # the past of the first score ends at the history's end
    return (means + beta * deviations).to_numpy()[offset:]
