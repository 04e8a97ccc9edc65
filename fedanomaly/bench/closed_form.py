"""Closed forms of what a split model's run sends (seed 002, Algorithm 1 and 2).

Payloads are float32 arrays: per monitor and iteration up ``dL/dX_bar`` and the next batch
(``M x T x d`` each) and ``dL/df`` (``M x l``), down ``f`` and ``z`` (``M x l``) and ``X_bar``
(``M x T x d``). Per FedAvg round and slice G and E go up with the sample count (int64) and come
back down; after training the global model goes down once more.
"""

from __future__ import annotations

import math

FLOAT_BYTES = 4
COUNT_BYTES = 8


def iteration_payload(batch: int, length: int, metrics: int, latent: int) -> tuple[int, int]:
    """(up, down) payload bytes of one monitor's exchange in one iteration."""
    window = batch * length * metrics
    up = FLOAT_BYTES * (2 * window + batch * latent)
    down = FLOAT_BYTES * (window + 2 * batch * latent)
    return up, down


def fedavg_payload(
    parameters: int, slices: int, iterations: int, local_iterations: int
) -> tuple[int, int]:
    """(up, down) payload bytes over the slice-controller link of a whole federated run."""
    rounds = math.ceil(iterations / local_iterations)
    up = rounds * slices * (FLOAT_BYTES * parameters + COUNT_BYTES)
    down = (rounds + 1) * slices * FLOAT_BYTES * parameters
    return up, down
