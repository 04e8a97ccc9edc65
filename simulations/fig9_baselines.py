"""Fig. 9 of seed 002: BiWGAN-GP against GAN, WGAN, WGAN-GP and BiGAN, each trained standalone.

Run ``python simulations/fig9_baselines.py [--data SOURCE] [--iterations I]``: trains (or
reads) ``topologies/paper.yaml`` in standalone mode with each model variant and writes
``fig9_baselines.csv`` and ``fig9_baselines.png`` (precision, recall, F1 at the deployable
threshold, and VUS-PR, means over monitors).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from reproduction import arguments, print_table, shared_runs, write_csv

VARIANTS = ("gan", "wgan", "wgan-gp", "bigan", "biwgan-gp")
METRICS = ("precision", "recall", "f1", "vus_pr", "auc_pr")


def main() -> None:
    options = arguments(__doc__.splitlines()[0]).parse_args()
    with shared_runs(options) as runs:
        summaries = {v: runs.summary("standalone", v)[1] for v in VARIANTS}
    rows = [
        {"model": v, **{k: summaries[v]["detection"]["overall"][k] for k in METRICS}}
        for v in VARIANTS
    ]
    write_csv(options.results / "fig9_baselines.csv", rows)
    figure, axis = plt.subplots(figsize=(9, 4))
    x = np.arange(len(METRICS))
    for k, row in enumerate(rows):
        axis.bar(x + (k - 2) * 0.16, [row[m] for m in METRICS], 0.16, label=row["model"])
    axis.set_xticks(x, METRICS)
    axis.set_ylabel("mean over monitors")
    axis.legend()
    figure.tight_layout()
    figure.savefig(options.results / "fig9_baselines.png", dpi=120)
    print_table("Fig. 9: standalone variants", rows)


if __name__ == "__main__":
    main()
