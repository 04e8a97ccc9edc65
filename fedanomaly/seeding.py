"""Seeds that every process derives alike from the run's seed and a name."""

from __future__ import annotations

import zlib


def stable_hash(name: str) -> int:
    """A hash of ``name`` that is the same in every process (unlike ``hash``).

    Parameters
    ----------
    name
        A monitor, slice or VM name.

    Returns
    -------
    int
        Its CRC-32, to add to the run's seed for a generator of that name's own.
    """
    return zlib.crc32(name.encode("utf-8"))
