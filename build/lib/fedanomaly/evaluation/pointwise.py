"""Point-wise metrics: each step is a sample, anomalous is the positive class."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
)


def binary_metrics(labels: np.ndarray, preds: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and accuracy of 0/1 predictions.

    Without anomalous steps recall and F1 are undefined (NaN), and precision too without
    alarms, so that a monitor with nothing to find does not pull means over monitors down.
    With anomalous steps but no alarm, precision is 0 (scikit-learn's ``zero_division=0``):
    such a monitor missed everything, and counts so in the means.

    Parameters
    ----------
    labels
        1 for an anomalous step, else 0.
    preds
        1 for an alarm, else 0; as long as ``labels``.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` and ``accuracy``.
    """
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, preds, average="binary", pos_label=1, zero_division=0
    )
    if not np.any(labels):
        recall = f1 = float("nan")
        precision = 0.0 if np.any(preds) else float("nan")
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "accuracy": float(accuracy_score(labels, preds)),
    }


def ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUC-ROC and AUC-PR (average precision) of scores against labels.

    Parameters
    ----------
    labels
        1 for an anomalous step, else 0.
    scores
        One score per step, higher meaning more anomalous.

    Returns
    -------
    dict
        ``auc_roc`` and ``auc_pr``; NaN where the labels hold one class only (or none) or a
        score is not finite (a diverged model's).
    """
    if labels.size == 0 or labels.min() == labels.max() or not np.isfinite(scores).all():
        return {"auc_roc": float("nan"), "auc_pr": float("nan")}
    return {
        "auc_roc": float(roc_auc_score(labels, scores)),
        "auc_pr": float(average_precision_score(labels, scores)),
    }


def oracle_f1(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The best point-wise F1 over all thresholds on these labels, and that threshold: the
    largest value below the lowest score alarmed, so that ``scores > threshold`` gives that F1.

    Only for comparison with work that reports it: the threshold is chosen on the labels that
    are then scored.

    Parameters
    ----------
    labels
        1 for an anomalous step, else 0.
    scores
        One score per step.

    Returns
    -------
    tuple
        The F1 and the threshold; NaN and infinity without anomalous steps or with a score
        that is not finite.
    """
    if not labels.any() or not np.isfinite(scores).all():
        return float("nan"), float("inf")
    precision, recall, cuts = precision_recall_curve(labels, scores)
    total = precision[:-1] + recall[:-1]
    f1 = np.divide(
        2 * precision[:-1] * recall[:-1], total, out=np.zeros_like(total), where=total > 0
    )
    best = int(np.argmax(f1))
    return float(f1[best]), float(np.nextafter(cuts[best], -np.inf))


def implied_prevalence(precision: float, recall: float, accuracy: float) -> float:
    """The share of anomalous samples that a precision, recall and accuracy imply.

    Published tables often give these three figures without the class balance they were
    measured at, yet precision and F1 depend on it. With a share ``p`` of positives, recall
    ``R`` and precision ``P``, the errors per sample are ``p (1 - R)`` missed and
    ``p R (1 - P) / P`` false alarms, so ``1 - accuracy = p (R (1 - P) / P + 1 - R)``.

    Parameters
    ----------
    precision, recall, accuracy
        Point-wise figures at one threshold, each in [0, 1].

    Returns
    -------
    float
        ``p`` in [0, 1]; NaN where the figures do not determine it (no errors at all, or
        precision or recall 0) or contradict each other (they imply a share above 1).
    """
    if precision <= 0.0 or recall <= 0.0:
        return float("nan")
    errors_per_positive = recall * (1.0 - precision) / precision + 1.0 - recall
    if errors_per_positive <= 0.0:
        return float("nan")
    share = (1.0 - accuracy) / errors_per_positive
    return share if share <= 1.0 else float("nan")
