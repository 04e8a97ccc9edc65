"""Range-aware metrics: VUS-ROC and VUS-PR, event-wise F1, point-adjusted F1 (legacy).

VUS follows the definition of the TSB-AD benchmark (Paparrizos et al., "Volume Under the
Surface", VLDB 2022; Liu and Paparrizos, NeurIPS 2024): for every buffer length ``b`` in
``0..window``, each labelled range gets a soft margin of ``b // 2`` steps on both sides whose
weight decays as ``sqrt(1 - distance / b)``; a range-aware ROC and PR curve is traced over 250
thresholds taken at evenly spaced ranks of the sorted scores, recall being weighted by the share
of (buffered) ranges that hold at least one alarm; the volume is the mean area over ``b``.
The buffer window defaults to TSB-AD's period estimate (:func:`estimate_period`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import argrelextrema

VUS_THRESHOLDS = 250
DEFAULT_PERIOD = 125
PERIOD_MAX_LAG = 400


def anomaly_ranges(labels: np.ndarray) -> np.ndarray:
    """Inclusive ``(start, end)`` of each run of 1s, shape ``(ranges, 2)``."""
    edges = np.diff(np.concatenate([[0], (np.asarray(labels) != 0).astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1], axis=1)


def buffered_segments(ranges: np.ndarray, half: int, length: int) -> np.ndarray:
    """Ranges widened by ``half`` steps on both sides, merged where they touch or overlap."""
    merged: list[list[int]] = []
    for start, end in ranges:
        low, high = max(int(start) - half, 0), min(int(end) + half, length - 1)
        if merged and merged[-1][1] >= low:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return np.array(merged, dtype=np.int64).reshape(-1, 2)


def buffer_weights(ranges: np.ndarray, buffer: int, length: int) -> np.ndarray:
    """Soft label of the margins only (0 inside labelled ranges and far from them)."""
    weights = np.zeros(length)
    half = buffer // 2
    for start, end in ranges:
        after = np.arange(end + 1, min(end + half + 1, length))
        weights[after] += np.sqrt(1 - (after - end) / buffer)
        before = np.arange(max(start - half, 0), start)
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
    labels: np.ndarray, scores: np.ndarray, window: int, thresholds: int = VUS_THRESHOLDS
) -> VolumeUnderSurface:
    """VUS-ROC and VUS-PR over buffer lengths ``0..window`` (NaN without a labelled step).

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
    """
    labels = (np.asarray(labels) != 0).astype(np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    length, positives = len(labels), float(labels.sum())
    if positives == 0 or length == 0:
        return VolumeUnderSurface(float("nan"), float("nan"))
    ranges = anomaly_ranges(labels)
    order = np.argsort(-scores, kind="stable")
    descending = scores[order]
    cuts = descending[np.linspace(0, length - 1, thresholds).astype(int)]
    alarms = length - np.searchsorted(np.sort(scores), cuts, side="left")  # scores >= cut
    hits_inside = np.cumsum(labels[order])[alarms - 1]
    rocs, prs = [], []
    for buffer in range(window + 1):
        margin = buffer_weights(ranges, buffer, length) if buffer > 1 else np.zeros(length)
        hits_margin = np.cumsum(margin[order])[alarms - 1]
        segments = buffered_segments(ranges, buffer // 2, length)
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


def event_f1(labels: np.ndarray, preds: np.ndarray) -> float:
    """Event-wise F1 as in TSB-AD: recall over labelled ranges (a range counts as found when
    one of its steps is predicted), precision over predicted steps."""
    ranges = anomaly_ranges(labels)
    preds = np.asarray(preds) != 0
    if len(ranges) == 0:
        return float("nan")  # nothing to find: undefined
    if not preds.any():
        return 0.0
    recall = np.mean([preds[s : e + 1].any() for s, e in ranges])
    precision = float((preds & (np.asarray(labels) != 0)).sum() / preds.sum())
    return float(2 * recall * precision / (recall + precision)) if recall + precision else 0.0


def point_adjust(labels: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """Legacy point adjustment: a labelled range with one alarm counts as wholly predicted."""
    adjusted = (np.asarray(preds) != 0).astype(np.int8)
    for start, end in anomaly_ranges(labels):
        if adjusted[start : end + 1].any():
            adjusted[start : end + 1] = 1
    return adjusted


def autocorrelation(series: np.ndarray, lags: int) -> np.ndarray:
    """Sample autocorrelation at lags ``0..lags`` (biased estimator, computed with an FFT)."""
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
