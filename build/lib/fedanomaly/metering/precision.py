"""Payload precision: what crosses a link as float32, float16, or int8 with a per-tensor scale.

The sender encodes, the meter counts the encoded message, and the receiver works with the
decoded values, so the bytes saved and the error added are both those of the real encoding.
Only float32 arrays are encoded; counts (a FedAvg sample count) cross as they are.

- ``float16``: IEEE half precision (values beyond +-65504 saturate to inf; the exchanged
  windows, gradients and weights are far smaller).
- ``int8``: symmetric per-tensor quantisation, ``q = round(a / s)`` with ``s = max|a| / 127``;
  the scale travels as one float32 beside the array (``<name>.scale``). A tensor that holds NaN
  or inf crosses with a NaN scale and decodes to NaN throughout, so that a diverged sender's
  values are not turned into numbers on the way (the receiver's checks then stop the run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

Precision = Literal["float32", "float16", "int8"]
SCALE_SUFFIX = ".scale"


def encode(arrays: Mapping[str, np.ndarray], precision: Precision) -> dict[str, np.ndarray]:
    """The arrays as they go on the wire.

    Parameters
    ----------
    arrays
        Named arrays; only the float32 ones are encoded.
    precision
        ``float32`` (nothing changes), ``float16`` or ``int8``.

    Returns
    -------
    dict
        A new dict: float16 or int8 arrays in place of the float32 ones (at ``int8`` with
        each one's float32 scale as ``<name>.scale``), the other arrays as they are.
    """
    if precision == "float32":
        return dict(arrays)
    wire: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        if array.dtype != np.float32:
            wire[name] = array
        elif precision == "float16":
            wire[name] = array.astype(np.float16)
        else:
            peak = float(np.abs(array).max()) if array.size else 0.0
            if not np.isfinite(peak):
                wire[name] = np.zeros(array.shape, dtype=np.int8)
                wire[name + SCALE_SUFFIX] = np.array(np.nan, dtype=np.float32)
                continue
            scale = np.float32(peak / 127)  # 0 where the peak is too small for float32's scale
            scale = scale if scale > 0 else np.float32(1.0)
            wire[name] = np.clip(np.round(array / scale), -127, 127).astype(np.int8)
            wire[name + SCALE_SUFFIX] = np.array(scale, dtype=np.float32)
    return wire


def decode(wire: Mapping[str, np.ndarray], precision: Precision) -> dict[str, np.ndarray]:
    """The float32 arrays a receiver gets back from :func:`encode`'s output.

    Parameters
    ----------
    wire
        What :func:`encode` returned.
    precision
        The precision it was encoded at.

    Returns
    -------
    dict
        A new dict: float32 arrays in place of the encoded ones (at ``float16`` the float16
        arrays, at ``int8`` those sent with a scale, times it), the scales left out, the other
        arrays (counts, codes) as they were sent, whatever their type.
    """
    if precision == "float32":
        return dict(wire)
    arrays: dict[str, np.ndarray] = {}
    for name, array in wire.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        if precision == "float16" and array.dtype == np.float16:
            arrays[name] = array.astype(np.float32)
        elif name + SCALE_SUFFIX in wire:  # quantised at int8
            arrays[name] = array.astype(np.float32) * wire[name + SCALE_SUFFIX]
        else:
            arrays[name] = array
    return arrays
