"""Balanced topologies from ``--slices S --monitors N``, without a file."""

from __future__ import annotations

from typing import Any

from fedanomaly.config.schema import MAX_BALANCED_MONITORS, MAX_MONITORS_PER_SLICE
from fedanomaly.errors import InputError


def balanced_slices(slices: int, monitors: int) -> list[dict[str, Any]]:
    """Slice mappings with ``monitors`` spread as evenly as possible over ``slices``.

    The first ``monitors % slices`` slices get one monitor more. Slices are named ``slice-1``...,
    monitors ``vm-<slice>-<k>``.

    Parameters
    ----------
    slices
        Number of slices (``--slices``).
    monitors
        Number of monitors in all (``--monitors``).

    Returns
    -------
    list of dict
        One mapping per slice, with ``name`` and ``monitors`` (a list of ``{"name": ...}``), as a
        topology file writes them.

    Raises
    ------
    InputError
        If ``slices`` is below 1, ``monitors`` is below ``slices``, ``monitors`` exceeds
        ``MAX_BALANCED_MONITORS``, or a slice would get more than ``MAX_MONITORS_PER_SLICE``.
    """
    if slices < 1:
        raise InputError(f"--slices must be at least 1, got {slices}")
    if monitors < slices:
        raise InputError(
            f"--monitors ({monitors}) must be at least --slices ({slices}): "
            "every slice needs a monitor"
        )
    if monitors > MAX_BALANCED_MONITORS:
        raise InputError(f"--monitors: at most {MAX_BALANCED_MONITORS:,}, got {monitors:,}")
    base, extra = divmod(monitors, slices)
    if base + (extra > 0) > MAX_MONITORS_PER_SLICE:
        raise InputError(
            f"--monitors: at most {MAX_MONITORS_PER_SLICE:,} per slice, got {monitors:,} "
            f"over {slices:,} slices"
        )
    return [
        {
            "name": f"slice-{s + 1}",
            "monitors": [{"name": f"vm-{s + 1}-{k + 1}"} for k in range(base + (s < extra))],
        }
        for s in range(slices)
    ]
