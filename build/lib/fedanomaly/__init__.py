"""fedanomaly: federated VM anomaly detection across the tiers of virtualized network slicing."""

__version__ = "0.1.0"
