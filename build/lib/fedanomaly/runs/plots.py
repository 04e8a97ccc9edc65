"""Loss curves of a run, like Fig. 6 of seed 002."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fedanomaly.files import write_figure

LOSS_LABELS = {
    "critic_loss": "critic (discriminator) loss",
    "eg_loss": "EG (generator) loss",
    "loss": "reconstruction loss (MSE)",
}


def plot_losses(records: list[dict], out: Path, title: str) -> None:
    """Each loss the records carry against iteration, one line per training group (cmsf-attae:
    CMSF-GAN's discriminator and generator losses, then ATTAE's reconstruction loss).

    Parameters
    ----------
    records
        Iteration records of ``metrics.jsonl``, each with ``group``, ``iteration`` and its
        losses.
    out
        The PNG file to write; a missing folder is made.
    title
        The figure's title.

    Raises
    ------
    InputError
        For what :func:`~fedanomaly.files.write_figure` refuses.
    """
    present = [key for key in LOSS_LABELS if any(key in r for r in records)]
    figure = Figure(figsize=(5.5 * max(len(present), 1), 4))
    axes = figure.subplots(1, max(len(present), 1), squeeze=False)[0]
    groups = sorted({r["group"] for r in records})
    for axis, key in zip(axes, present, strict=False):
        for group in groups:
            mine = [r for r in records if r["group"] == group and key in r]
            iterations = np.array([r["iteration"] for r in mine])
            axis.plot(iterations, [r[key] for r in mine], linewidth=0.8, label=group)
        axis.set(xlabel="iteration", ylabel=LOSS_LABELS[key])
        if len(groups) <= 12:
            axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    write_figure(figure, out)
