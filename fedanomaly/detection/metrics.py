"""Point-wise detection metrics, overall and per anomaly type."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, average_precision_score, precision_recall_fscore_support

from fedanomaly.data.injection import TYPE_NAMES


def binary_metrics(labels: np.ndarray, preds: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and accuracy of 0/1 predictions (anomalous is positive)."""
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, preds, average="binary", pos_label=1, zero_division=0
    )
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "accuracy": float(accuracy_score(labels, preds)),
    }


def detection_metrics(
    scores: np.ndarray, preds: np.ndarray, types: np.ndarray
) -> dict[str, object]:
    """Overall metrics with AUC-PR, and per type on the normal steps plus that type's steps."""
    labels = (types != 0).astype(np.int8)
    overall = binary_metrics(labels, preds)
    overall["auc_pr"] = float(average_precision_score(labels, scores)) if labels.any() else 0.0
    by_type = {}
    for code in np.unique(types[types != 0]):
        chosen = (types == 0) | (types == code)
        by_type[TYPE_NAMES[code]] = binary_metrics(labels[chosen], preds[chosen])
    return {"overall": overall, "by_type": by_type}
