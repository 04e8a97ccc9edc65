"""Seeds that every process derives alike from the run's seed and a name."""

from __future__ import annotations

import zlib

import numpy as np


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


def stream_seed(seed: int, stream: str) -> int:
    """The seed of one random stream of an object seeded ``seed``.

    An object that seeds its initial weights with ``seed`` and also draws from torch generators
    of its own (noise, interpolation weights) seeds each of those with this, so that no stream
    repeats another: a torch generator seeded like the global one would replay the very draws
    that set the weights.

    Parameters
    ----------
    seed
        The object's seed (non-negative).
    stream
        The stream's name, e.g. ``noise`` or ``epsilon``.

    Returns
    -------
    int
        A 64-bit seed from NumPy's ``SeedSequence`` of ``seed`` and the stream's hash.
    """
    state = np.random.SeedSequence([seed, stable_hash(stream)]).generate_state(1, np.uint64)
    return int(state[0])


def standalone_seed(seed: int, monitor: str) -> int:
    """The seed of a standalone monitor's own G and E: a stream apart from the monitor's seed,
    ``seed + stable_hash(monitor)``, which its critic's weights take, so that G and the critic
    do not start from the same draws (a local model's copies all start from the run's seed, in
    every mode).

    Parameters
    ----------
    seed
        The run's seed.
    monitor
        The monitor's name.

    Returns
    -------
    int
        :func:`stream_seed` of the monitor's seed for the stream ``generator side``.
    """
    return stream_seed(seed + stable_hash(monitor), "generator side")
