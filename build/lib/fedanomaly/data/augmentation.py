"""Level stretching of training windows: load beyond the training range, relations kept.

A reconstruction model has seen only the load of its train part, and tends to raise alarms
wherever a VM runs beyond it (`detection.beyond_train_range` of a run's summary). Each training
window's level, its mean per metric, is moved away from the training data's mean by a random
factor; the fluctuations within the window stay as they were. Where the metrics of a VM move
together with its load, a window stretched so reads as the same VM under heavier (or lighter)
load: linear relations between the metrics' levels hold, while a fault, which moves one family
against the others, is not imitated.
"""

from __future__ import annotations

import numpy as np


def stretch_levels(windows: np.ndarray, centre: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Windows with their levels moved away from ``centre``.

    Parameters
    ----------
    windows
        Windows ``(n, T, d)``.
    centre
        The level to stretch away from, per metric ``(d,)``: a monitor's mean over its
        training windows (over all its VMs, each min-max scaled on its own train part).
    factors
        One stretch factor per window ``(n,)``; 1 leaves a window as it is.

    Returns
    -------
    numpy.ndarray
        ``x + (a - 1) * (mean_t(x) - centre)`` per window x and factor a, in the windows' dtype.
    """
    level = windows.mean(axis=1, keepdims=True)
    moved = windows + (factors[:, None, None] - 1.0) * (level - centre)
    return moved.astype(windows.dtype, copy=False)
