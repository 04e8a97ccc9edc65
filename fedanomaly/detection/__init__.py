"""Anomaly scores, thresholds and detection metrics."""
