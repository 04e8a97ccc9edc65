"""How well the injected anomalies can be found at all: two reference detectors, no GAN.

Run ``python simulations/separability.py [--data SOURCE] [--rates 0.05,0.5] [--seed S]``. For
each fault type of seed 002 injected alone, and for the four injected together (``all four``,
as a default run injects them), at each share of anomalous steps, on the source's default
layout (built-in data: 3 slices x 9 monitors), it scores every monitor's test part with

- ``supervised``: a gradient-boosted classifier trained on the labels of the monitor's
  validation part (each step's values and their changes over 1, 5 and 15 steps), F1 on the test
  part at probability 0.5. It sees labels no deployed detector has, so it shows what the data
  allow rather than what to expect;
- ``supervised+``: the same classifier taught more: by the validation part as above and by the
  same normal steps injected again with half of them anomalous (other events, the same types;
  not where the share is already a half),
  and seeing the changes to the steps 1, T/2 and T - 1 ahead too (the window length T of
  BiWGAN-GP: a step's score averages the windows that hold it, so it sees that far ahead). At
  a low share of anomalous steps the validation part holds too few events to teach the first;
  this one is the nearer estimate of the ceiling;
- ``cross-family``: without labels, for each metric family a ridge regression from the other
  families' metrics fitted on the train part; a step's score is the largest, over families, of
  the mean squared residual in train standard deviations, averaged over 5 steps. F1 at eq. 33
  (the midpoint threshold from the validation part) and the oracle F1 (best over thresholds on
  the test labels).

Figures are means over monitors. The last line is ``ceiling_f1=<lowest supervised+ F1 of one
type> together_f1=<supervised+ F1 of the four together> cross_family_f1=<lowest cross-family
F1 of one type at eq. 33>`` at the last rate.
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
RICH_RATE = 0.5
TOGETHER = "all four"


def part(monitor: MonitorData, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Scaled values ``(steps, d)`` and 0/1 labels of one part, the monitor's VMs concatenated."""
    parts = [vm.part(split) for vm in monitor.vms]
    return np.concatenate([p.scaled for p in parts]), np.concatenate([p.labels for p in parts])


def change_features(values: np.ndarray, ahead: tuple[int, ...] = ()) -> np.ndarray:
    """Each step's values, their changes over ``CHANGE_LAGS`` steps and the changes to the
    steps ``ahead`` (the first and last rows repeat)."""
    columns = [values]
    for lag in CHANGE_LAGS:
        earlier = np.vstack([np.repeat(values[:1], lag, axis=0), values[:-lag]])
        columns.append(values - earlier)
    for lag in ahead:
        later = np.vstack([values[lag:], np.repeat(values[-1:], lag, axis=0)])
        columns.append(later - values)
    return np.hstack(columns)


def supervised_f1(
    monitor: MonitorData,
    seed: int,
    extra: MonitorData | None = None,
    ahead: tuple[int, ...] = (),
) -> float:
    """Test F1 of a classifier trained on the validation part's labels (and ``extra``'s)."""
    taught = [part(monitor, "validation")] + ([part(extra, "validation")] if extra else [])
    features = np.vstack([change_features(values, ahead) for values, _ in taught])
    labels = np.concatenate([labels for _, labels in taught])
    test, test_labels = part(monitor, "test")
    classifier = HistGradientBoostingClassifier(max_iter=200, random_state=seed)
    classifier.fit(features, labels)
    return binary_metrics(test_labels, classifier.predict(change_features(test, ahead)))["f1"]


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
    print(
        f"{'rate':>5} {'type':20} {'supervised':>10} {'supervised+':>11} {'cross-family':>12} "
        f"{'oracle':>7}"
    )
    for rate in rates:
        ceiling, cross = {}, {}
        for kind in (*PAPER_002_TYPES, TOGETHER):
            settings = {
                "seed": options.seed,
                "data.injection.types": list(PAPER_002_TYPES) if kind == TOGETHER else [kind],
                "data.injection.rate": rate,
            }
            try:
                topology = resolve_topology(source=source, settings=settings)
                monitors = prepare_monitors(topology)
                settings["data.injection.rate"] = RICH_RATE  # at that rate already: no new events
                richer = (
                    [None] * len(monitors)
                    if rate == RICH_RATE
                    else prepare_monitors(resolve_topology(source=source, settings=settings))
                )
            except InputError as error:
                parser.error(str(error))
            window = topology.model.window_length
            ahead = tuple(sorted({1, window // 2, window - 1}))
            pairs = [
                (m, r) for m, r in zip(monitors, richer, strict=True) if part(m, "test")[1].any()
            ]
            learned = np.mean([supervised_f1(m, options.seed) for m, _ in pairs])
            ceiling[kind] = float(
                np.mean([supervised_f1(m, options.seed, r, ahead) for m, r in pairs])
            )
            found = np.array([cross_family_f1(m) for m, _ in pairs]).mean(axis=0)
            cross[kind] = found[0]
            print(
                f"{rate:5.2f} {kind:20} {learned:10.3f} {ceiling[kind]:11.3f} {found[0]:12.3f} "
                f"{found[1]:7.3f}"
            )
    alone = [kind for kind in ceiling if kind != TOGETHER]
    print(
        f"ceiling_f1={min(ceiling[k] for k in alone):.3f} together_f1={ceiling[TOGETHER]:.3f} "
        f"cross_family_f1={min(cross[k] for k in alone):.3f}"
    )


if __name__ == "__main__":
    main()
