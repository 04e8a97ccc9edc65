"""The anomaly score of eq. 28 (seed 002).

For a window X with latent code f = E(X) and residuals X - G(E(X)):

    A(X) = gamma * r(X) + (1 - gamma) * c(X)
    c(X) = softplus(-D(X, E(X)))         (sigmoid cross-entropy of D's logit against "real")

A is a window's score, as in the paper, and r a norm of the window's residuals, fitted on the
monitor's training windows; ``model.metric_pooling`` chooses which:

- ``mahalanobis`` (the default since 2026-12-06): the Mahalanobis distance of the window's mean
  residual per metric (a vector of d values) from the training windows' mean residuals, with
  their covariance estimated by Ledoit-Wolf and then shrunk towards its own diagonal by
  ``model.covariance_shrinkage``. A fault moves one metric family against the others, which
  normal load moves together; the model's residuals keep some of that shared movement, and the
  covariance weighs it out, so the fault's residual stands out. The shrinkage keeps nearly
  collinear residual directions (tiny training variance) from deciding the score alone.
- ``mean``: the root mean square of each value's z-score, its absolute residual standardised
  per metric with the mean and standard deviation over the training windows (so a metric that
  is always hard to reconstruct does not drown the others). (The mean square without the root,
  the choice until 2026-12-06, ranks single windows alike but is heavy-tailed: a few large faults
  then pull eq. 33's mean of the anomalous validation scores, and so the threshold, far above
  most anomalous steps.)
- ``max`` (beyond the paper): the largest, over metrics, of each metric's squared z-score
  averaged over the window's positions and standardised on the training windows: a fault that
  moves a few metrics is then not averaged away by the many it leaves alone.

Both terms are then standardised with their mean and standard deviation on the training windows
before mixing, since their scales differ by orders of magnitude.

Windows are taken with stride 1, and a step's score is the mean of A over the windows that contain
it, so every step of a part gets a score. Thresholds are in :mod:`fedanomaly.evaluation.thresholds`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from sklearn.covariance import LedoitWolf
from torch.nn import functional

from fedanomaly.models.biwgan import Critic, Encoder, Generator

CHUNK = 1024

#: Which norm of a window's residuals r takes (``model.metric_pooling``).
Pooling = Literal["mahalanobis", "mean", "max"]


def window_terms(
    generator: Generator,
    encoder: Encoder | None,
    critic: Critic,
    windows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Residual X - G(E(X)) per window, position and metric, shape ``(n, T, d)``, and the
    critic term per window, shape ``(n,)`` (no gradients). Without an encoder (the variants
    that have none) the residuals are zero.

    Parameters
    ----------
    generator, encoder, critic
        The trained G, E (``None`` without an encoder) and the monitor's critic D.
    windows
        Windows ``(n, T, d)``, float32 like the modules; at least one.

    Returns
    -------
    tuple of numpy.ndarray
        The residuals ``(n, T, d)`` and the critic term ``softplus(-D(X, E(X)))`` ``(n,)``
        (with an empty latent code in place of E(X) without an encoder).
    """
    residuals, critic_term = [], []
    with torch.no_grad():
        for start in range(0, len(windows), CHUNK):
            x = torch.from_numpy(np.ascontiguousarray(windows[start : start + CHUNK]))
            if encoder is not None:
                code = encoder(x)
                residuals.append((x - generator(code)).numpy())
            else:
                code = x.new_zeros(len(x), 0)
                residuals.append(np.zeros(x.shape, dtype=np.float32))
            critic_term.append(functional.softplus(-critic(x, code)).numpy())
    return np.concatenate(residuals), np.concatenate(critic_term)


def steps_from_windows(scores: np.ndarray) -> np.ndarray:
    """Per-step mean over the stride-1 windows that contain each step.

    ``scores`` has shape ``(n, T)``: the score of window ``s`` at its position ``j`` belongs to
    step ``s + j``. A per-window score is given as ``(n, 1)`` and spread over its T steps by
    the caller (``np.repeat``).
    """
    count, length = scores.shape
    totals = np.zeros(count + length - 1)
    covers = np.zeros(count + length - 1)
    for position in range(length):
        totals[position : position + count] += scores[:, position]
        covers[position : position + count] += 1
    return totals / covers


def metric_scale(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per metric of training windows ``(n, T, d)`` of absolute
    errors (or of values, for the ``zscore`` control); a standard deviation of 0, a metric that
    never varies, counts as 1."""
    std = errors.std(axis=(0, 1))
    return errors.mean(axis=(0, 1)), np.where(std > 0, std, 1.0)


#: The interquartile range of a normal distribution in standard deviations.
NORMAL_IQR = 1.349


def robust_metric_scale(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust spread per metric of absolute errors on training windows.

    Parameters
    ----------
    errors
        Absolute reconstruction errors ``(n, T, d)``.

    Returns
    -------
    tuple of numpy.ndarray
        The median ``(d,)`` and the spread ``(d,)``: the interquartile range over 1.349 (the
        standard deviation of normal errors); where the range is 0 (a metric whose errors are
        mostly equal) the standard deviation, and 1 where that is 0 too.
    """
    flat = errors.reshape(-1, errors.shape[-1])
    lower, median, upper = np.percentile(flat, [25, 50, 75], axis=0)
    std = flat.std(axis=0)
    spread = np.where(upper > lower, (upper - lower) / NORMAL_IQR, np.where(std > 0, std, 1.0))
    return median, spread


def robust_deviation(errors: np.ndarray, median: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Per window and position, the mean over metrics of each absolute error's distance from
    its metric's training median in robust spreads: ``(n, T, d)`` -> ``(n, T)``.

    Parameters
    ----------
    errors
        Absolute reconstruction errors ``(n, T, d)``.
    median, spread
        Each metric's training median and robust spread ``(d,)``
        (:func:`robust_metric_scale`).

    Returns
    -------
    numpy.ndarray
        The mean deviation per window and position ``(n, T)``.
    """
    return (np.abs(errors - median) / spread).mean(axis=2)


def squared_zscores(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Each value's squared z-score against its metric's mean and standard deviation:
    ``(n, T, d)`` -> ``(n, T, d)``.

    Parameters
    ----------
    values
        Values or absolute errors ``(n, T, d)``.
    mean, std
        Each metric's mean and standard deviation ``(d,)`` (:func:`metric_scale`; no 0 in
        ``std``).

    Returns
    -------
    numpy.ndarray
        The squared z-scores ``(n, T, d)``.
    """
    return ((values - mean) / std) ** 2


def root_mean_square_zscore(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """The root mean square over each window's values of their per-metric z-scores: eq. 28's
    reconstruction term with mean pooling, ``(n, T, d)`` -> ``(n,)``.

    Parameters
    ----------
    values
        Absolute errors, or values for the ``zscore`` control, ``(n, T, d)``.
    mean, std
        Each metric's mean and standard deviation ``(d,)`` (:func:`metric_scale`).

    Returns
    -------
    numpy.ndarray
        One score per window ``(n,)``.
    """
    return np.sqrt(squared_zscores(values, mean, std).mean(axis=2).mean(axis=1))


def metric_window_errors(errors: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Each metric's squared z-score averaged over a window's positions: ``(n, T, d)`` ->
    ``(n, d)``.

    Parameters
    ----------
    errors
        Absolute errors ``(n, T, d)``.
    mean, std
        Each metric's mean and standard deviation ``(d,)`` (:func:`metric_scale`).

    Returns
    -------
    numpy.ndarray
        The mean squared z-score per window and metric ``(n, d)``.
    """
    return squared_zscores(errors, mean, std).mean(axis=1)


@dataclass(frozen=True)
class ResidualWhitening:
    """The mean and the inverse covariance of training windows' mean residuals ``(d,)``.

    Parameters
    ----------
    mean
        Mean over training windows of each metric's residual averaged over the window ``(d,)``.
    precision
        Inverse of their covariance ``(d, d)``: Ledoit-Wolf's estimate, shrunk towards its
        diagonal.
    """

    mean: np.ndarray
    precision: np.ndarray

    @classmethod
    def fit(cls, residuals: np.ndarray, shrinkage: float) -> ResidualWhitening:
        """Fit on training residuals ``(n, T, d)``.

        Parameters
        ----------
        residuals
            Residuals X - G(E(X)) of the training windows.
        shrinkage
            Weight in [0, 1] of the covariance's diagonal in the shrunk covariance
            ``(1 - shrinkage) * C + shrinkage * diag(C)``; 1 ignores the correlations.

        Returns
        -------
        ResidualWhitening
            The window means' mean and the inverse of their shrunk covariance; NaN throughout
            where a residual is not finite, so that every distance is NaN, as the other
            poolings' scores are then.

        Notes
        -----
        Ledoit-Wolf shrinks towards a multiple of the identity, so a metric whose window means
        barely vary in training keeps a large weight: a later shift in it alone scores high.
        """
        means = residuals.mean(axis=1, dtype=np.float64)
        if not np.isfinite(means).all():
            size = means.shape[1]
            return cls(np.full(size, np.nan), np.full((size, size), np.nan))
        estimate = LedoitWolf(store_precision=False).fit(means)
        covariance = estimate.covariance_
        shrunk = (1.0 - shrinkage) * covariance + shrinkage * np.diag(np.diag(covariance))
        return cls(estimate.location_, np.linalg.pinv(shrunk, hermitian=True))

    def distance(self, residuals: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each window's mean residual from the training mean.

        Parameters
        ----------
        residuals
            Residuals X - G(E(X)) of the windows to score ``(n, T, d)``.

        Returns
        -------
        numpy.ndarray
            ``sqrt((m - mean)^T precision (m - mean))`` per window, m its mean residual ``(n,)``.
        """
        centred = residuals.mean(axis=1, dtype=np.float64) - self.mean
        squared = np.einsum("ij,jk,ik->i", centred, self.precision, centred)
        return np.sqrt(np.maximum(squared, 0.0))


@dataclass(frozen=True)
class ScoreScale:
    """Per-metric error scale, how r pools the metrics (with the residual whitening of
    ``mahalanobis`` pooling), and mean and standard deviation of both window terms on training
    windows."""

    metric_mean: np.ndarray
    metric_std: np.ndarray
    pooling: Pooling
    whitening: ResidualWhitening | None
    window_metric_mean: np.ndarray
    window_metric_std: np.ndarray
    recon_mean: float
    recon_std: float
    critic_mean: float
    critic_std: float
    gamma: float

    @classmethod
    def fit(
        cls,
        residuals: np.ndarray,
        critic: np.ndarray,
        gamma: float,
        bidirectional: bool,
        pooling: Pooling,
        shrinkage: float,
    ) -> ScoreScale:
        """Fit on the training windows; without an encoder only the critic term counts.

        Parameters
        ----------
        residuals
            Residuals X - G(E(X)) of the training windows ``(n, T, d)``.
        critic
            The critic term of the same windows ``(n,)``.
        gamma
            Weight of the reconstruction term.
        bidirectional
            Whether the model has an encoder (else r is left out).
        pooling
            How r pools the window's residuals: ``mahalanobis``, ``mean`` or ``max`` (see the
            module's text).
        shrinkage
            ``mahalanobis``: weight of the covariance's diagonal (see
            :meth:`ResidualWhitening.fit`).
        """
        errors = np.abs(residuals)
        metric_mean, metric_std = metric_scale(errors)
        per_metric = metric_window_errors(errors, metric_mean, metric_std)
        spread = per_metric.std(axis=0)
        unfitted = cls(
            metric_mean,
            metric_std,
            pooling,
            ResidualWhitening.fit(residuals, shrinkage) if pooling == "mahalanobis" else None,
            per_metric.mean(axis=0),
            np.where(spread > 0, spread, 1.0),
            0.0,
            1.0,
            float(critic.mean()),
            float(critic.std()) or 1.0,
            gamma if bidirectional else 0.0,
        )
        recon = unfitted.window_reconstruction(residuals)
        return dataclasses.replace(
            unfitted, recon_mean=float(recon.mean()), recon_std=float(recon.std()) or 1.0
        )

    def window_reconstruction(self, residuals: np.ndarray) -> np.ndarray:
        """r per window ``(n,)``: the :meth:`ResidualWhitening.distance` (``mahalanobis``),
        :func:`root_mean_square_zscore` (``mean``), or the largest standardised
        :func:`metric_window_errors` (``max``). Without an encoder the residuals are 0, and so
        is r, whatever the pooling."""
        if self.whitening is not None:  # fitted for mahalanobis pooling only
            return self.whitening.distance(residuals)
        errors = np.abs(residuals)
        if self.pooling == "mean":
            return root_mean_square_zscore(errors, self.metric_mean, self.metric_std)
        if self.pooling == "max":
            per_metric = metric_window_errors(errors, self.metric_mean, self.metric_std)
            return ((per_metric - self.window_metric_mean) / self.window_metric_std).max(axis=1)
        raise ValueError(f"unknown metric pooling '{self.pooling}'")

    def combine(self, residuals: np.ndarray, critic: np.ndarray) -> np.ndarray:
        """A of eq. 28 on the common scale, per window: ``(n,)``.

        Parameters
        ----------
        residuals
            Residuals X - G(E(X)) of the windows to score ``(n, T, d)``.
        critic
            The critic term of the same windows ``(n,)``.

        Returns
        -------
        numpy.ndarray
            ``gamma * r + (1 - gamma) * c`` per window ``(n,)``, r and c standardised with
            their training mean and standard deviation.
        """
        r = (self.window_reconstruction(residuals) - self.recon_mean) / self.recon_std
        c = (critic - self.critic_mean) / self.critic_std
        return self.gamma * r + (1.0 - self.gamma) * c
