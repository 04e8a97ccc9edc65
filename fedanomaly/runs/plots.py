"""Loss curves of a run, like Fig. 6 of seed 002."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fedanomaly.data.plotting import write_figure


def plot_losses(records: list[dict], out: Path, title: str) -> None:
    """Critic loss and EG loss against iteration, one line per training group."""
    figure = Figure(figsize=(11, 4))
    critic_axis, eg_axis = figure.subplots(1, 2)
    groups = sorted({r["group"] for r in records})
    for group in groups:
        mine = [r for r in records if r["group"] == group]
        iterations = np.array([r["iteration"] for r in mine])
        critic_axis.plot(iterations, [r["critic_loss"] for r in mine], linewidth=0.8, label=group)
        eg_axis.plot(iterations, [r["eg_loss"] for r in mine], linewidth=0.8, label=group)
    critic_axis.set(xlabel="iteration", ylabel="critic (discriminator) loss")
    eg_axis.set(xlabel="iteration", ylabel="EG loss")
    if len(groups) <= 12:
        critic_axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    write_figure(figure, out)
