"""Evaluation used by every model: point-wise, ranking and range-aware metrics, deployable and
oracle thresholds, and the report of one monitor's scores."""
