"""Fig. 6 of seed 002: training losses per mode.

Run ``python simulations/fig6_losses.py [--data SOURCE] [--iterations I]``: trains (or reads)
``topologies/paper.yaml`` in the four modes and writes ``fig6_losses.csv`` (iteration, mode,
critic loss and L_EG averaged over the mode's groups) and ``fig6_losses.png``.
"""

from __future__ import annotations

import json
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from reproduction import MODES, arguments, print_table, shared_runs, write_csv


def main() -> None:
    options = arguments(__doc__.splitlines()[0]).parse_args()
    with shared_runs(options) as runs:
        paths = {mode: runs.summary(mode)[0] for mode in MODES}
    rows = []
    for mode, path in paths.items():
        by_iteration: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for line in (path / "metrics.jsonl").open():
            record = json.loads(line)
            if "iteration" in record:
                by_iteration[record["iteration"]].append((record["critic_loss"], record["eg_loss"]))
        for iteration, losses in sorted(by_iteration.items()):
            critic, eg = np.mean(losses, axis=0)
            rows.append(
                {"mode": mode, "iteration": iteration, "critic_loss": critic, "eg_loss": eg}
            )
    write_csv(options.results / "fig6_losses.csv", rows)
    figure, axes = plt.subplots(1, 2, figsize=(12, 4))
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        for axis, key in zip(axes, ("critic_loss", "eg_loss"), strict=True):
            axis.plot([r["iteration"] for r in mine], [r[key] for r in mine], label=mode, lw=1)
    axes[0].set_title("critic loss (eq. 16)")
    axes[1].set_title("L_EG (eq. 19)")
    for axis in axes:
        axis.set_xlabel("iteration")
        axis.legend()
    figure.tight_layout()
    figure.savefig(options.results / "fig6_losses.png", dpi=120)
    last = []
    for mode in MODES:
        tail = [r for r in rows if r["mode"] == mode][-50:]
        last.append(
            {
                "mode": mode,
                "critic_loss (last 50)": float(np.mean([r["critic_loss"] for r in tail])),
                "eg_loss (last 50)": float(np.mean([r["eg_loss"] for r in tail])),
            }
        )
    print_table("Fig. 6: losses at the end of training", last)


if __name__ == "__main__":
    main()
