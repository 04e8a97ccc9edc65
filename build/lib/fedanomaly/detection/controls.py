"""Control detectors scored on the same windows as the model: a result that does not beat them
means little.

- ``random``: uniform scores, seeded by the run seed and the monitor;
- ``zscore``: no model at all: eq. 28's ``mean`` reconstruction term with the values in place of the
  reconstruction errors, the root mean square over the window's values of each value's z-score
  against its metric's mean and standard deviation on the training windows (a window score, as
  the model's). A detector that does not beat it has learned nothing beyond each metric's usual
  range;
- ``pca``: squared reconstruction error of flattened training windows projected on the
  principal components that keep 90 % of their variance, per position;
- ``iforest``: an Isolation Forest (100 trees) on flattened training windows, the negated
  ``score_samples`` of a window at every position.

The untrained model (the model at the initial weights the run's seed gives, scored like the
trained one) is one more control; :meth:`fedanomaly.tiers.node.TierNode.score` builds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from fedanomaly.data.pipeline import MonitorData
from fedanomaly.detection.detector import scores_by_part, window_part_scores
from fedanomaly.detection.scoring import metric_scale, root_mean_square_zscore
from fedanomaly.evaluation.report import PartScores

PCA_VARIANCE = 0.9
FOREST_TREES = 100


class WindowDetector(Protocol):
    """A detector fitted on training windows that scores each window position."""

    def fit(self, windows: np.ndarray) -> None:
        """Fit on training windows ``(count, T, d)``."""

    def position_scores(self, windows: np.ndarray) -> np.ndarray:
        """Scores ``(count, T)``."""


class ZScoreDetector:
    """The root mean square over a window's values of their z-scores against each metric's
    training mean and deviation."""

    def __init__(self) -> None:
        self.mean = np.zeros(0)
        self.std = np.ones(0)

    def fit(self, windows: np.ndarray) -> None:
        self.mean, self.std = metric_scale(windows)

    def position_scores(self, windows: np.ndarray) -> np.ndarray:
        window_scores = root_mean_square_zscore(windows, self.mean, self.std)
        return np.repeat(window_scores[:, None], windows.shape[1], axis=1)


class PcaDetector:
    """Reconstruction error on the principal subspace of the training windows."""

    def __init__(self, seed: int) -> None:
        self.pca = PCA(n_components=PCA_VARIANCE, svd_solver="full", random_state=seed % 2**32)

    def fit(self, windows: np.ndarray) -> None:
        self.pca.fit(windows.reshape(len(windows), -1))

    def position_scores(self, windows: np.ndarray) -> np.ndarray:
        flat = windows.reshape(len(windows), -1)
        rebuilt = self.pca.inverse_transform(self.pca.transform(flat))
        return ((flat - rebuilt) ** 2).reshape(windows.shape).mean(axis=2)


class ForestDetector:
    """Isolation Forest on flattened windows."""

    def __init__(self, seed: int) -> None:
        self.forest = IsolationForest(n_estimators=FOREST_TREES, random_state=seed % 2**32)

    def fit(self, windows: np.ndarray) -> None:
        self.forest.fit(windows.reshape(len(windows), -1))

    def position_scores(self, windows: np.ndarray) -> np.ndarray:
        scores = -self.forest.score_samples(windows.reshape(len(windows), -1))
        return np.repeat(scores[:, None], windows.shape[1], axis=1)


def window_detector_scores(
    detector: WindowDetector, data: MonitorData, length: int, stride: int
) -> PartScores:
    """Fit on the training windows (with ``stride``) and score every step of the three parts.

    Parameters
    ----------
    detector
        The control, not yet fitted.
    data
        The monitor.
    length
        Window length T.
    stride
        Stride of the training windows it is fitted on; the parts are scored with stride 1.

    Returns
    -------
    PartScores
        Per-step scores of the three parts.
    """
    detector.fit(data.windows("train", length, stride))
    return window_part_scores(data, length, detector.position_scores)


def random_scores(data: MonitorData, seed: int) -> PartScores:
    """Uniform scores for every step.

    Parameters
    ----------
    data
        The monitor.
    seed
        Seeds the draws.

    Returns
    -------
    PartScores
        Scores in [0, 1) for every step of the three parts.
    """
    rng = np.random.default_rng(seed)

    return scores_by_part(
        data, lambda split: rng.random(sum(len(vm.part(split)) for vm in data.vms))
    )


def control_scores(name: str, data: MonitorData, length: int, stride: int, seed: int) -> PartScores:
    """Scores of the control ``name`` (``random``, ``zscore``, ``pca`` or ``iforest``).

    Parameters
    ----------
    name
        The control.
    data
        The monitor.
    length
        Window length T (not used by ``random``).
    stride
        Stride of the training windows the window detectors are fitted on.
    seed
        Seeds the ``random`` scores, PCA's solver and the Isolation Forest (``zscore`` draws
        nothing).

    Returns
    -------
    PartScores
        Per-step scores of the three parts.

    Raises
    ------
    ValueError
        If ``name`` is none of the four.
    """
    if name == "random":
        return random_scores(data, seed)
    detectors: dict[str, Callable[[int], WindowDetector]] = {
        "zscore": lambda _: ZScoreDetector(),
        "pca": PcaDetector,
        "iforest": ForestDetector,
    }
    if name not in detectors:
        raise ValueError(f"unknown control detector '{name}'")
    return window_detector_scores(detectors[name](seed), data, length, stride)
