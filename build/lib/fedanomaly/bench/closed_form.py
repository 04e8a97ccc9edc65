"""Closed forms of what a split model's run sends (seed 002, Algorithm 1 and 2).

Payloads are arrays of values at the payload precision (4 bytes for float32, 2 for float16, 1
for int8, which adds one float32 scale per tensor): per monitor and iteration up ``dL/dX_bar``
and the next batch (``M x T x d`` each) and ``dL/df`` (``M x l``), down ``f`` and ``z``
(``M x l``) and ``X_bar`` (``M x T x d``); a model without an encoder sends no ``f`` and no
``dL/df``. Per FedAvg round and slice G and E go up with the
sample count (int64) and come back down; after training the global model goes down once more.
"""

from __future__ import annotations

import math

from fedanomaly.metering.precision import Precision

FLOAT_BYTES = 4
COUNT_BYTES = 8
VALUE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "int8": 1}


def tensors_bytes(values: int, tensors: int, precision: Precision = "float32") -> int:
    """Payload of ``tensors`` float arrays holding ``values`` values in all.

    Parameters
    ----------
    values
        Values in all the arrays.
    tensors
        Number of arrays; each carries a float32 scale at ``int8``.
    precision
        ``float32``, ``float16`` or ``int8``.

    Returns
    -------
    int
        Payload bytes.
    """
    scales = FLOAT_BYTES * tensors if precision == "int8" else 0
    return VALUE_BYTES[precision] * values + scales


def iteration_payload(
    batch: int,
    length: int,
    metrics: int,
    latent: int,
    precision: Precision = "float32",
    bidirectional: bool = True,
) -> tuple[int, int]:
    """(up, down) payload bytes of one monitor's exchange in one iteration: three arrays each
    way, or without an encoder (``bidirectional`` false: ``wgan-gp``, ``wgan``, ``gan``) two up
    and one down: neither ``dL/df`` up nor ``f`` and ``z`` down.

    Parameters
    ----------
    batch, length, metrics, latent
        Batch size M, window length T, metrics d and latent size l.
    precision
        Payload precision of every array.
    bidirectional
        Whether the model has an encoder.

    Returns
    -------
    tuple of int
        Up (``dL/dX_bar``, the next batch and ``dL/df``) and down (``z``, ``X_bar`` and ``f``;
        ``X_bar`` alone without an encoder) payload bytes.
    """
    window = batch * length * metrics
    codes = batch * latent if bidirectional else 0
    up = tensors_bytes(2 * window + codes, 3 if bidirectional else 2, precision)
    down = tensors_bytes(window + 2 * codes, 3 if bidirectional else 1, precision)
    return up, down


def fedavg_payload(
    parameters: int,
    slices: int,
    iterations: int,
    local_iterations: int,
    precision: Precision = "float32",
    tensors: int = 0,
) -> tuple[int, int]:
    """(up, down) payload bytes over the slice-controller link of a whole federated run; G and
    E are ``parameters`` values in ``tensors`` arrays.

    Parameters
    ----------
    parameters
        Values of G and E together.
    slices
        Number of slices.
    iterations
        Training iterations I.
    local_iterations
        Iterations L between two FedAvg rounds: ``ceil(I / L)`` rounds.
    precision
        Payload precision of the models.
    tensors
        Number of arrays of G and E; only ``int8`` uses it (one scale per array).

    Returns
    -------
    tuple of int
        Up: per round and slice, the model and its int64 sample count; down: per round and
        slice the global model, and once more after training.
    """
    rounds = math.ceil(iterations / local_iterations)
    model = tensors_bytes(parameters, tensors, precision)
    return rounds * slices * (model + COUNT_BYTES), (rounds + 1) * slices * model
