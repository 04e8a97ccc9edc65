"""VM metric data: sources, preprocessing, anomaly injection, inspection and plots."""
