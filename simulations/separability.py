"""How well the injected anomalies can be found at all: two reference detectors, no GAN.

Run ``python simulations/separability.py [--data SOURCE] [--rates 0.05,0.5] [--seed S]``. For
each fault type of seed 002 injected alone, at each share of anomalous steps, on the source's
default layout (built-in data: 3 slices x 9 monitors), it scores every monitor's test part with

- ``supervised``: a gradient-boosted classifier trained on the labels of the monitor's
  validation part (each step's values and their changes over 1, 5 and 15 steps), F1 on the test
  part at probability 0.5. It sees labels no deployed detector has, so it shows what the data
  allow rather than what to expect;
- ``cross-family``: without labels, for each metric family a ridge regression from the other
  families' metrics fitted on the train part; a step's score is the largest, over families, of
  the mean squared residual in train standard deviations, averaged over 5 steps. F1 at eq. 33
  (the midpoint threshold from the validation part) and the oracle F1 (best over thresholds on
  the test labels).

Figures are means over monitors. The last line is ``ceiling_f1=<lowest supervised F1>
cross_family_f1=<lowest cross-family F1 at eq. 33>`` at the last rate.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import Ridge

from fedanomaly.config import parse_source
from fedanomaly.config.overrides import resolve_topology
from fedanomaly.config.schema import PAPER_002_TYPES
from fedanomaly.data.pipeline import MonitorData, prepare_monitors
from fedanomaly.errors import InputError
from fedanomaly.evaluation.pointwise import binary_metrics, oracle_f1
from fedanomaly.evaluation.thresholds import validation_threshold

CHANGE_LAGS = (1, 5, 15)
SMOOTHING = 5


def part(monitor: MonitorData, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Scaled values ``(steps, d)`` and 0/1 labels of one part, the monitor's VMs concatenated."""
    parts = [vm.part(split) for vm in monitor.vms]
    return np.concatenate([p.scaled for p in parts]), np.concatenate([p.labels for p in parts])


def change_features(values: np.ndarray) -> np.ndarray:
    """Each step's values and their changes over ``CHANGE_LAGS`` steps (the first rows repeat)."""
    columns = [values]
    for lag in CHANGE_LAGS:
        earlier = np.vstack([np.repeat(values[:1], lag, axis=0), values[:-lag]])
        columns.append(values - earlier)
    return np.hstack(columns)


def supervised_f1(monitor: MonitorData, seed: int) -> float:
    """Test F1 of a classifier trained on the validation part's labels."""
    validation, validation_labels = part(monitor, "validation")
    test, test_labels = part(monitor, "test")
    classifier = HistGradientBoostingClassifier(max_iter=200, random_state=seed)
    classifier.fit(change_features(validation), validation_labels)
    return binary_metrics(test_labels, classifier.predict(change_features(test)))["f1"]


class CrossFamily:
    """Per family, a ridge regression of its metrics on every other family's, fitted on train."""

    def __init__(self, monitor: MonitorData) -> None:
        train, _ = part(monitor, "train")
        families = np.array([metric.family for metric in monitor.metrics])
        self.fits = []
        for family in np.unique(families):
            own = families == family
            regression = Ridge(alpha=1e-3, solver="svd").fit(train[:, ~own], train[:, own])
            spread = (train[:, own] - regression.predict(train[:, ~own])).std(axis=0)
            self.fits.append((own, regression, np.where(spread > 0, spread, 1.0)))

    def scores(self, values: np.ndarray) -> np.ndarray:
        """Per step: the largest family's mean squared standardised residual, 5-step mean."""
        per_family = []
        for own, regression, spread in self.fits:
            residual = (values[:, own] - regression.predict(values[:, ~own])) / spread
            smoothed = np.convolve(
                (residual**2).mean(axis=1), np.ones(SMOOTHING) / SMOOTHING, "same"
            )
            per_family.append(smoothed)
        return np.max(per_family, axis=0)


def cross_family_f1(monitor: MonitorData) -> tuple[float, float]:
    """F1 at eq. 33 and oracle F1 of :class:`CrossFamily` on the test part."""
    detector = CrossFamily(monitor)
    validation, validation_labels = part(monitor, "validation")
    test, test_labels = part(monitor, "test")
    threshold = validation_threshold(detector.scores(validation), validation_labels)
    test_scores = detector.scores(test)
    at_threshold = binary_metrics(test_labels, (test_scores > threshold).astype(int))["f1"]
    return at_threshold, oracle_f1(test_labels, test_scores)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic-vnf", help="data source (as simulate's)")
    parser.add_argument("--rates", default="0.05,0.5", help="shares of anomalous steps")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    try:
        source = parse_source(options.data)
        rates = [float(text) for text in options.rates.split(",")]
    except (InputError, ValueError) as error:
        parser.error(str(error))
    print(f"{'rate':>5} {'type':20} {'supervised':>10} {'cross-family':>12} {'oracle':>7}")
    for rate in rates:
        supervised, cross = [], []
        for kind in PAPER_002_TYPES:
            settings = {
                "seed": options.seed,
                "data.injection.types": [kind],
                "data.injection.rate": rate,
            }
            try:
                monitors = prepare_monitors(resolve_topology(source=source, settings=settings))
            except InputError as error:
                parser.error(str(error))
            labelled = [monitor for monitor in monitors if part(monitor, "test")[1].any()]
            learned = float(np.mean([supervised_f1(m, options.seed) for m in labelled]))
            found = np.array([cross_family_f1(monitor) for monitor in labelled]).mean(axis=0)
            supervised.append(learned)
            cross.append(found[0])
            print(f"{rate:5.2f} {kind:20} {learned:10.3f} {found[0]:12.3f} {found[1]:7.3f}")
    print(f"ceiling_f1={min(supervised):.3f} cross_family_f1={min(cross):.3f}")


if __name__ == "__main__":
    main()
