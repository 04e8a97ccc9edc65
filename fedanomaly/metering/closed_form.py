"""Closed-form payload sizes of the split protocol (float32 arrays), for checks and benchmarks.

Per monitor and iteration, the monitor sends its feedback and its next batch, the slice manager
its (f, z, X_bar); per FedAvg round each slice sends G and E and its sample count, and the
controller sends G and E back. Framing is not included.
"""

from __future__ import annotations

FLOAT_BYTES = 4
COUNT_BYTES = 8


def monitor_to_slice_bytes(
    batch: int, length: int, metrics: int, latent: int, bidirectional: bool = True
) -> int:
    """Payload a monitor sends per iteration: dL/dX_bar, dL/df (with an encoder) and X."""
    window = batch * length * metrics
    return FLOAT_BYTES * (2 * window + (batch * latent if bidirectional else 0))


def slice_to_monitor_bytes(
    batch: int, length: int, metrics: int, latent: int, bidirectional: bool = True
) -> int:
    """Payload the slice manager sends a monitor per iteration: f (with an encoder), z, X_bar."""
    return FLOAT_BYTES * (batch * latent * (2 if bidirectional else 1) + batch * length * metrics)


def model_bytes(parameters: int) -> int:
    """Payload of G and E with ``parameters`` float32 values."""
    return FLOAT_BYTES * parameters


def slice_to_controller_bytes(parameters: int) -> int:
    """Payload a slice sends per FedAvg round: G, E and its training-set size."""
    return model_bytes(parameters) + COUNT_BYTES
