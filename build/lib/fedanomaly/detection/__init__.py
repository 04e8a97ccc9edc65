"""Anomaly scores: the model's on every step of a monitor's parts, and the control detectors'."""
