"""``fedanomaly data plot``: a monitor's metrics by family, injected anomalies shaded by type."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from fedanomaly.data.injection import TYPE_NAMES
from fedanomaly.data.metrics import Family
from fedanomaly.data.pipeline import VMData
from fedanomaly.data.preprocessing import SPLITS
from fedanomaly.errors import InputError
from fedanomaly.files import write_figure

TYPE_COLOURS = dict(zip(TYPE_NAMES[1:], matplotlib.colormaps["tab10"].colors, strict=False))


def segments(types: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal non-zero type code as ``(start, stop, code)``."""
    edges = np.flatnonzero(np.diff(types, prepend=0, append=0))
    runs = []
    for start, stop in itertools.pairwise(edges):
        if types[start] != 0:
            runs.append((int(start), int(stop), int(types[start])))
    return runs


def plot_vm(vm: VMData, title: str, out: Path, split: str = "all") -> None:
    """Draw a VM's scaled metrics, one panel per family, with anomalies shaded by type.

    Parameters
    ----------
    vm
        The prepared VM data.
    title
        Figure title.
    out
        PNG file to write; it is written whole or not at all.
    split
        ``all`` (train, validation and test side by side) or one part.
    """
    if split not in ("all", *SPLITS):
        raise InputError(f"--split must be all, train, validation or test, got '{split}'")
    parts = SPLITS if split == "all" else (split,)
    scaled = np.concatenate([vm.part(p).scaled for p in parts])
    types = np.concatenate([vm.part(p).types for p in parts])
    families = [f for f in Family if any(m.family == f for m in vm.metrics)]
    figure = Figure(figsize=(14, 2.2 * len(families) + 1))
    axes = figure.subplots(len(families), 1, sharex=True, squeeze=False)
    for axis, family in zip(axes[:, 0], families, strict=True):
        for j, metric in enumerate(vm.metrics):
            if metric.family == family:
                axis.plot(scaled[:, j], linewidth=0.6, label=metric.name)
        for start, stop, code in segments(types):
            axis.axvspan(start, stop, color=TYPE_COLOURS[TYPE_NAMES[code]], alpha=0.3, lw=0)
        boundary = 0
        for name in parts[:-1]:
            boundary += len(vm.part(name))
            axis.axvline(boundary, color="black", linestyle="--", linewidth=0.8)
        axis.set_ylabel(f"{family.value}\n(scaled)")
        axis.legend(loc="upper left", fontsize=6, ncol=4, framealpha=0.6)
    present = sorted({code for *_, code in segments(types)})
    handles = [
        Patch(color=TYPE_COLOURS[TYPE_NAMES[c]], alpha=0.5, label=TYPE_NAMES[c]) for c in present
    ]
    if handles:
        figure.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=8)
    shown = " | ".join(parts)
    axes[-1, 0].set_xlabel(f"step ({shown}; dashed lines separate the parts)")
    figure.suptitle(title, x=0.01, ha="left", fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    write_figure(figure, out)
