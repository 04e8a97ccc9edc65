"""Range-aware metrics: VUS-ROC and VUS-PR, event-wise F1, point-adjusted F1 (legacy).

VUS follows the definition of the TSB-AD benchmark (Paparrizos et al., "Volume Under the
Surface", VLDB 2022; Liu and Paparrizos, NeurIPS 2024): for every buffer length ``b`` in
``0..window``, each labelled range gets a soft margin of ``b // 2`` steps on both sides whose
weight decays as ``sqrt(1 - distance / b)``; a range-aware ROC and PR curve is traced over 250
thresholds taken at evenly spaced ranks of the sorted scores, recall being weighted by the share
of (buffered) ranges that hold at least one alarm; the volume is the mean area over ``b``.
The buffer window defaults to TSB-AD's period estimate (:func:`estimate_period`).

A monitor's test part can join several VMs' series end to end. Their ``lengths`` keep them
apart: a labelled range ends with its series, and a margin or buffered range stops at its
series' ends, while thresholds still sweep the scores of all series together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import argrelextrema

VUS_THRESHOLDS = 250
DEFAULT_PERIOD = 125
PERIOD_MAX_LAG = 400


def series_limits(lengths: Sequence[int], total: int) -> np.ndarray:
    """Inclusive ``(first, last)`` step of each non-empty series joined end to end, shape
    ``(series, 2)``.

    Parameters
    ----------
    lengths
        Steps of each series; empty for one series of ``total`` steps.
    total
        Steps of all series together.

    Raises
    ------
    ValueError
        If the lengths do not add up to ``total``.
    """
    ends = np.cumsum(lengths, dtype=np.int64) if len(lengths) else np.array([total])
    if ends[-1] != total:
        raise ValueError(f"series of {list(lengths)} steps do not make {total} steps")
    limits = np.stack([np.concatenate([[0], ends[:-1]]), ends - 1], axis=1)
    return limits[limits[:, 1] >= limits[:, 0]]


def anomaly_ranges(labels: np.ndarray, lengths: Sequence[int] = ()) -> np.ndarray:
    """Inclusive ``(start, end)`` of each run of 1s within a series, shape ``(ranges, 2)``.

    Parameters
    ----------
    labels
        Labels or type codes per step; any non-zero value counts as 1.
    lengths
        Steps of each series joined end to end (a run stops where its series ends); empty for
        one series.

    Returns
    -------
    numpy.ndarray
        The ranges in step order; ``(0, 2)`` without an anomalous step.

    Raises
    ------
    ValueError
        If ``labels`` is not empty and ``lengths`` does not add up to its length.

    Examples
    --------
    >>> anomaly_ranges(np.array([0, 1, 1, 1, 0, 1])).tolist()
    [[1, 3], [5, 5]]
    >>> anomaly_ranges(np.array([0, 1, 1, 1, 0, 1]), lengths=(3, 3)).tolist()
    [[1, 2], [3, 3], [5, 5]]
    """
    flags = np.asarray(labels) != 0
    if not flags.size:
        return np.zeros((0, 2), dtype=np.int64)
    limits = series_limits(lengths, len(flags))
    first, last = np.zeros(len(flags), bool), np.zeros(len(flags), bool)
    first[limits[:, 0]], last[limits[:, 1]] = True, True
    before = np.concatenate([[False], flags[:-1]])
    after = np.concatenate([flags[1:], [False]])
    starts = np.flatnonzero(flags & (first | ~before))
    ends = np.flatnonzero(flags & (last | ~after))
    return np.stack([starts, ends], axis=1)


def range_limits(ranges: np.ndarray, lengths: Sequence[int], total: int) -> np.ndarray:
    """Inclusive ``(first, last)`` step of the series that holds each range.

    Parameters
    ----------
    ranges
        Inclusive ``(start, end)`` of each range ``(ranges, 2)`` (:func:`anomaly_ranges`).
    lengths
        Steps of each series joined end to end; empty for one series.
    total
        Steps of all series together.

    Returns
    -------
    numpy.ndarray
        One row per range ``(ranges, 2)``.

    Raises
    ------
    ValueError
        If the lengths do not add up to ``total``.
    """
    limits = series_limits(lengths, total)
    return limits[np.searchsorted(limits[:, 1], ranges[:, 0])].reshape(-1, 2)


def buffered_segments(ranges: np.ndarray, half: int, limits: np.ndarray) -> np.ndarray:
    """Ranges widened by ``half`` steps on both sides within their series (``limits``, per
    range), merged where they overlap.

    Parameters
    ----------
    ranges
        Inclusive ``(start, end)`` of each labelled range ``(ranges, 2)``, in step order.
    half
        Steps added on each side.
    limits
        Inclusive ``(first, last)`` step of each range's series ``(ranges, 2)``
        (:func:`range_limits`).

    Returns
    -------
    numpy.ndarray
        Inclusive ``(start, end)`` of each widened segment ``(segments, 2)``.
    """
    merged: list[list[int]] = []
    for (start, end), (first, last) in zip(ranges, limits, strict=True):
        low, high = max(int(start) - half, int(first)), min(int(end) + half, int(last))
        if merged and merged[-1][1] >= low:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return np.array(merged, dtype=np.int64).reshape(-1, 2)


def buffer_weights(ranges: np.ndarray, buffer: int, limits: np.ndarray, length: int) -> np.ndarray:
    """Soft label of the margins only (0 inside labelled ranges and far from them); a margin
    stays within its range's series (``limits``, per range).

    Parameters
    ----------
    ranges
        Inclusive ``(start, end)`` of each labelled range ``(ranges, 2)``.
    buffer
        Buffer length b: a margin of ``b // 2`` steps on each side, a step at distance k from
        its range weighing ``sqrt(1 - k / b)``.
    limits
        Inclusive ``(first, last)`` step of each range's series ``(ranges, 2)``
        (:func:`range_limits`).
    length
        Steps of all series together.

    Returns
    -------
    numpy.ndarray
        Weight per step ``(length,)``; where margins overlap their weights add up, capped
        at 1.
    """
    weights = np.zeros(length)
    half = buffer // 2
    for (start, end), (first, last) in zip(ranges, limits, strict=True):
        after = np.arange(end + 1, min(end + half, last) + 1)
        weights[after] += np.sqrt(1 - (after - end) / buffer)
        before = np.arange(max(start - half, first), start)
        weights[before] += np.sqrt(1 - (start - before) / buffer)
    inside = np.zeros(length, dtype=bool)
    for start, end in ranges:
        inside[start : end + 1] = True
    return np.where(inside, 0.0, np.minimum(weights, 1.0))


@dataclass(frozen=True)
class VolumeUnderSurface:
    """VUS-ROC and VUS-PR of one score series."""

    roc: float
    pr: float


def volume_under_surface(
    labels: np.ndarray,
    scores: np.ndarray,
    window: int,
    thresholds: int = VUS_THRESHOLDS,
    lengths: Sequence[int] = (),
) -> VolumeUnderSurface:
    """VUS-ROC and VUS-PR over buffer lengths ``0..window`` (NaN without a labelled step,
    without a normal one, as AUC-ROC and AUC-PR are then, or with a score that is not finite).

    Parameters
    ----------
    labels
        0/1 per step.
    scores
        Anomaly score per step (higher is more anomalous).
    window
        Largest buffer length.
    thresholds
        Number of thresholds, at evenly spaced ranks of the sorted scores.
    lengths
        Steps of each series joined in ``labels`` and ``scores``; empty for one series.
    """
    labels = (np.asarray(labels) != 0).astype(np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    length, positives = len(labels), float(labels.sum())
    if positives in (0, length) or not np.isfinite(scores).all():
        return VolumeUnderSurface(float("nan"), float("nan"))
    ranges = anomaly_ranges(labels, lengths)
    limits = range_limits(ranges, lengths, length)
    order = np.argsort(-scores, kind="stable")
    descending = scores[order]
    cuts = descending[np.linspace(0, length - 1, thresholds).astype(int)]
    alarms = length - np.searchsorted(np.sort(scores), cuts, side="left")  # scores >= cut
    hits_inside = np.cumsum(labels[order])[alarms - 1]
    rocs, prs = [], []
    for buffer in range(window + 1):
        margin = buffer_weights(ranges, buffer, limits, length) if buffer > 1 else np.zeros(length)
        hits_margin = np.cumsum(margin[order])[alarms - 1]
        segments = buffered_segments(ranges, buffer // 2, limits)
        peaks = np.array([scores[start : end + 1].max() for start, end in segments])
        found = (peaks[None, :] >= cuts[:, None]).sum(axis=1) / len(segments)
        true_positive = hits_inside + hits_margin
        expected = positives + hits_margin / 2
        tpr = np.minimum(true_positive / expected, 1.0) * found
        fpr = (alarms - true_positive) / (length - expected)
        precision = true_positive / alarms
        tpr_curve = np.concatenate([[0.0], tpr, [1.0]])
        fpr_curve = np.concatenate([[0.0], fpr, [1.0]])
        rocs.append(np.sum(np.diff(fpr_curve) * (tpr_curve[1:] + tpr_curve[:-1]) / 2))
        prs.append(np.sum(np.diff(tpr_curve[:-1]) * precision))
    return VolumeUnderSurface(float(np.mean(rocs)), float(np.mean(prs)))


def event_f1(labels: np.ndarray, preds: np.ndarray, lengths: Sequence[int] = ()) -> float:
    """Event-wise F1 as in TSB-AD: recall over labelled ranges (a range counts as found when
    one of its steps is predicted), precision over predicted steps.

    Parameters
    ----------
    labels, preds
        0/1 per step: the labels and the alarms.
    lengths
        Steps of each series joined end to end (no range crosses from one to the next), as
        in :func:`anomaly_ranges`; empty for one series.

    Returns
    -------
    float
        The F1; NaN without a labelled range, 0 without an alarm.
    """
    ranges = anomaly_ranges(labels, lengths)
    preds = np.asarray(preds) != 0
    if len(ranges) == 0:
        return float("nan")  # nothing to find: undefined
    if not preds.any():
        return 0.0
    recall = np.mean([preds[s : e + 1].any() for s, e in ranges])
    precision = float((preds & (np.asarray(labels) != 0)).sum() / preds.sum())
    return float(2 * recall * precision / (recall + precision)) if recall + precision else 0.0


def point_adjust(labels: np.ndarray, preds: np.ndarray, lengths: Sequence[int] = ()) -> np.ndarray:
    """Legacy point adjustment: a labelled range with one alarm counts as wholly predicted.

    Parameters
    ----------
    labels, preds
        0/1 per step: the labels and the alarms.
    lengths
        Steps of each series joined end to end, as in :func:`anomaly_ranges`.

    Returns
    -------
    numpy.ndarray
        The adjusted alarms, 0/1 per step (``int8``).
    """
    adjusted = (np.asarray(preds) != 0).astype(np.int8)
    for start, end in anomaly_ranges(labels, lengths):
        if adjusted[start : end + 1].any():
            adjusted[start : end + 1] = 1
    return adjusted


def autocorrelation(series: np.ndarray, lags: int) -> np.ndarray:
    """Sample autocorrelation at lags ``0..lags`` (biased estimator, computed with an FFT).

    Parameters
    ----------
    series
        A non-empty 1-D series.
    lags
        Largest lag, at most ``len(series) - 1``.

    Returns
    -------
    numpy.ndarray
        ``lags + 1`` correlations, 1 at lag 0; zeros for a constant series.
    """
    centred = np.asarray(series, dtype=np.float64) - np.mean(series)
    size = 1 << int(np.ceil(np.log2(2 * len(centred) - 1)))
    spectrum = np.fft.rfft(centred, size)
    covariance = np.fft.irfft(spectrum * np.conj(spectrum), size)[: lags + 1]
    if covariance[0] == 0:
        return np.zeros(lags + 1)
    return covariance / covariance[0]


def estimate_period(series: np.ndarray) -> int:
    """TSB-AD's window: the lag of the highest local maximum of the autocorrelation over lags
    3..400 of the first 20,000 steps, or 125 when none exists or that lag is outside 6..303
    (TSB-AD tests 3..300 on the index counted from lag 3, and so do we, to give its values)."""
    series = np.asarray(series)[:20_000]
    base = 3
    correlation = autocorrelation(series, min(PERIOD_MAX_LAG, len(series) - 1))[base:]
    peaks = argrelextrema(correlation, np.greater)[0]
    if len(peaks) == 0:
        return DEFAULT_PERIOD
    best = int(peaks[np.argmax(correlation[peaks])])
    if best < 3 or best > 300:
        return DEFAULT_PERIOD
    return best + base
