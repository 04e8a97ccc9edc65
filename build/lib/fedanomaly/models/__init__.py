"""Anomaly-detection models as plain PyTorch modules and losses (no Flower, no Ray)."""
