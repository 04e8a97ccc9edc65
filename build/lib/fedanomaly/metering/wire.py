"""The wire format whose size is metered: named numpy arrays in npy framing.

A message is an 8-byte header (length and array count) and, per array, a 2-byte name length,
the UTF-8 name, the array's ``.npy`` header (magic, version, shape and dtype, padded to 64
bytes) and its raw data. The payload is the arrays' data; the framing is everything else.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

MESSAGE_HEADER_BYTES = 8
NAME_LENGTH_BYTES = 2


@lru_cache(maxsize=4096)
def npy_header_bytes(dtype: str, shape: tuple[int, ...]) -> int:
    """Length of the ``.npy`` header numpy writes for an array of this dtype and shape.

    Parameters
    ----------
    dtype
        The dtype's string, as :attr:`numpy.dtype.str` gives it (``<f4``).
    shape
        The array's shape.

    Returns
    -------
    int
        Bytes of the version 1.0 header, magic string included, padded to a multiple of 64.
    """
    stream = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(stream, header)
    return len(stream.getvalue())


def positional(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """A model's arrays keyed by position (``p0``, ``p1``, ...), as its messages name them."""
    return {f"p{k}": a for k, a in enumerate(arrays)}


def from_positional(arrays: Mapping[str, np.ndarray], count: int) -> list[np.ndarray]:
    """The model arrays of a message written with :func:`positional`, in order.

    Parameters
    ----------
    arrays
        The message; keys other than ``p0`` .. ``p{count - 1}`` are ignored.
    count
        How many model arrays it holds.

    Returns
    -------
    list of numpy.ndarray
        ``p0``, ``p1``, ... in order.
    """
    return [arrays[f"p{k}"] for k in range(count)]


def message_size(arrays: Mapping[str, np.ndarray]) -> tuple[int, int]:
    """(payload bytes, framing bytes) of one message carrying ``arrays``."""
    payload = 0
    framing = MESSAGE_HEADER_BYTES
    for name, array in arrays.items():
        payload += array.nbytes
        framing += NAME_LENGTH_BYTES + len(name.encode("utf-8"))
        framing += npy_header_bytes(array.dtype.str, tuple(array.shape))
    return payload, framing


def encode(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Serialize a message in the metered format (used to check the sizes against real bytes)."""
    stream = io.BytesIO()
    stream.write(len(arrays).to_bytes(4, "little"))
    body = io.BytesIO()
    for name, array in arrays.items():
        raw = name.encode("utf-8")
        body.write(len(raw).to_bytes(NAME_LENGTH_BYTES, "little"))
        body.write(raw)
        np.lib.format.write_array(body, np.ascontiguousarray(array), allow_pickle=False)
    stream.write(len(body.getvalue()).to_bytes(4, "little"))
    stream.write(body.getvalue())
    return stream.getvalue()
