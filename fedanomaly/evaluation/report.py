"""Evaluate one monitor: thresholds, then every metric on its test part, for the model and for
the control detectors scored on the same windows.

Scores arrive per step (:class:`PartScores`); labels are the step types (0 normal). Metrics are
computed per monitor; a run's overall figures are their means over monitors
(:func:`fedanomaly.runs.summary.build_summary`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fedanomaly.config.schema import EvaluationConfig
from fedanomaly.data.injection import anomaly_labels
from fedanomaly.evaluation.pointwise import binary_metrics, oracle_f1, ranking_metrics
from fedanomaly.evaluation.ranges import (
    estimate_period,
    event_f1,
    point_adjust,
    volume_under_surface,
)
from fedanomaly.evaluation.thresholds import (
    adaptive_threshold,
    generated_threshold,
    pot_threshold,
    sigma_threshold,
    validation_threshold,
)

CONTROL_METRICS = ("vus_pr", "vus_roc", "auc_pr", "auc_roc", "f1")


@dataclass(frozen=True)
class PartScores:
    """Per-step scores of one detector on a monitor's three parts, its VMs' series joined end
    to end; ``validation_lengths`` and ``test_lengths`` hold each VM's steps (empty: one VM)."""

    train: np.ndarray
    validation: np.ndarray
    validation_types: np.ndarray
    test: np.ndarray
    test_types: np.ndarray
    generated: np.ndarray | None = None  # mean step score of each generated window
    validation_lengths: tuple[int, ...] = ()
    test_lengths: tuple[int, ...] = ()

    @property
    def test_labels(self) -> np.ndarray:
        """1 for an anomalous test step."""
        return anomaly_labels(self.test_types)


@dataclass
class MonitorReport:
    """A monitor's evaluation: its predictions, metrics, thresholds and control rows."""

    name: str
    threshold: float  # the mean over test steps for a per-step (adaptive) threshold
    vus_window: int
    scores: np.ndarray
    preds: np.ndarray
    types: np.ndarray
    beyond_range: np.ndarray  # test steps with a metric outside its train part's range
    metrics: dict[str, float]
    thresholds: dict[str, dict[str, float]]
    controls: dict[str, dict[str, float]] = field(default_factory=dict)
    #: each VM's test steps, in the order ``scores`` holds them (empty: one VM)
    test_lengths: tuple[int, ...] = ()
    #: per deployable method, its threshold at each test step (``adaptive`` varies by step)
    step_thresholds: dict[str, np.ndarray] = field(default_factory=dict)


Threshold = float | np.ndarray


def by_series(steps: np.ndarray, lengths: tuple[int, ...]) -> list[np.ndarray]:
    """A part's steps cut into its VMs' series (one piece for ``lengths`` empty).

    Parameters
    ----------
    steps
        Per-step values of a part, the VMs' series end to end.
    lengths
        Steps of each VM's series.

    Returns
    -------
    list of numpy.ndarray
        One view of ``steps`` per series, in order.

    Raises
    ------
    ValueError
        If ``lengths`` do not add up to the number of steps.
    """
    if not lengths:
        return [steps]
    if sum(lengths) != len(steps):
        raise ValueError(f"series of {sum(lengths)} steps in all for a part of {len(steps)} steps")
    return np.split(steps, np.cumsum(lengths)[:-1])


def deployable_thresholds(scores: PartScores, config: EvaluationConfig) -> dict[str, Threshold]:
    """The thresholds fixed without test labels (``adaptive``: one per test step, each VM's
    from its own validation scores' tail; ``generated`` where there are scores of generated
    anomalies).

    Parameters
    ----------
    scores
        The detector's step scores.
    config
        ``sigma_beta``, ``pot_risk``, ``pot_level`` and ``adaptive_window``.

    Returns
    -------
    dict
        The threshold of each method, by name: a float, or for ``adaptive`` an array with one
        per test step.

    Raises
    ------
    ValueError
        If the validation and test parts hold different numbers of series, a part's series
        lengths do not add up to its steps, or a VM has no validation step.
    """
    thresholds: dict[str, Threshold] = {
        "validation": validation_threshold(
            scores.validation, scores.validation_types, config.sigma_beta, scores.train
        ),
        "pot": pot_threshold(scores.train, config.pot_risk, config.pot_level),
        "sigma": sigma_threshold(scores.train, config.sigma_beta),
        "adaptive": np.concatenate(
            [
                adaptive_threshold(history, test, config.adaptive_window, config.sigma_beta)
                for history, test in zip(
                    by_series(scores.validation, scores.validation_lengths),
                    by_series(scores.test, scores.test_lengths),
                    strict=True,
                )
            ]
        ),
    }
    if scores.generated is not None:
        thresholds["generated"] = generated_threshold(scores.validation, scores.generated)
    return thresholds


def part_metrics(
    scores: PartScores, threshold: Threshold, window: int
) -> tuple[np.ndarray, dict[str, float]]:
    """Predictions at ``threshold`` and every metric of the test part.

    Parameters
    ----------
    scores
        The detector's step scores.
    threshold
        One threshold, or one per test step.
    window
        Largest VUS buffer length.

    Returns
    -------
    tuple
        The predictions (1 where a test score exceeds the threshold, ``int8``) and the
        metrics by name.
    """
    labels = scores.test_labels
    preds = (scores.test > threshold).astype(np.int8)
    lengths = scores.test_lengths
    volume = volume_under_surface(labels, scores.test, window, lengths=lengths)
    metrics = {
        "anomalous_share": float(labels.mean()),
        **binary_metrics(labels, preds),
        **ranking_metrics(labels, scores.test),
        "vus_pr": volume.pr,
        "vus_roc": volume.roc,
        "event_f1": event_f1(labels, preds, lengths),
        "f1_oracle": oracle_f1(labels, scores.test)[0],
        "f1_point_adjusted_legacy": binary_metrics(labels, point_adjust(labels, preds, lengths))[
            "f1"
        ],
    }
    return preds, metrics


def evaluate_monitor(
    name: str,
    model: PartScores,
    controls: dict[str, PartScores],
    config: EvaluationConfig,
    period_series: np.ndarray,
    beyond_range: np.ndarray,
) -> MonitorReport:
    """Threshold and measure the model's scores and each control's on the same test steps.

    Parameters
    ----------
    name
        Monitor name.
    model
        The model's step scores.
    controls
        Each control detector's step scores.
    config
        Threshold choice and VUS window.
    period_series
        The series whose period sets the VUS window when ``config.vus_window`` is ``auto``.
    beyond_range
        Per test step, whether a metric lies outside the range it took in the train part
        (kept with the predictions, to tell false alarms on unseen load from the rest).

    Raises
    ------
    ValueError
        If ``beyond_range`` does not hold one flag per test step.
    """
    beyond = np.asarray(beyond_range, dtype=bool)
    if beyond.shape != model.test.shape:
        raise ValueError(
            f"{name}: beyond-range flags of shape {beyond.shape} for test scores of shape "
            f"{model.test.shape}"
        )
    window = estimate_period(period_series) if config.vus_window == "auto" else config.vus_window
    thresholds = deployable_thresholds(model, config)
    chosen = thresholds[config.threshold]
    preds, metrics = part_metrics(model, chosen, window)
    by_threshold = {}
    for method in thresholds:
        at = binary_metrics(model.test_labels, (model.test > thresholds[method]).astype(np.int8))
        by_threshold[method] = {"threshold": float(np.mean(thresholds[method])), **at}
    f1, cut = oracle_f1(model.test_labels, model.test)
    by_threshold["oracle"] = {"threshold": cut, "f1": f1}
    rows = {}
    for control, scores in controls.items():
        # no generated anomalies are scored by the controls: eq. 33 stands in for them
        method = "validation" if config.threshold == "generated" else config.threshold
        cut = deployable_thresholds(scores, config)[method]
        rows[control] = {k: part_metrics(scores, cut, window)[1][k] for k in CONTROL_METRICS}
    return MonitorReport(
        name,
        float(np.mean(chosen)),
        window,
        model.test,
        preds,
        model.test_types,
        beyond,
        metrics,
        by_threshold,
        rows,
        model.test_lengths,
        {method: np.broadcast_to(cut, model.test.shape).astype(np.float64)
         for method, cut in thresholds.items()},
    )  # fmt: skip
