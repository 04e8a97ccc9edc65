"""Fig. 10 of seed 002: precision, recall and F1 against training iterations, four modes.

Run ``python simulations/fig10_iterations.py [--data SOURCE] [--points 100,250,500]``: trains
(or reads) ``topologies/paper.yaml`` in each mode for each iteration count and writes
``fig10_iterations.csv`` and ``fig10_iterations.png`` (deployable threshold, means over
monitors).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from reproduction import MODES, arguments, print_table, shared_runs, write_csv

METRICS = ("precision", "recall", "f1")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--points", default="100,250,500", help="iteration counts, comma-separated")
    options = parser.parse_args()
    points = [int(p) for p in options.points.split(",")]
    rows = []
    with shared_runs(options) as runs:
        for mode in MODES:
            for iterations in points:
                overall = runs.summary(mode, iterations=iterations)[1]["detection"]["overall"]
                rows.append(
                    {"mode": mode, "iterations": iterations, **{k: overall[k] for k in METRICS}}
                )
    write_csv(options.results / "fig10_iterations.csv", rows)
    figure, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True)
    for axis, metric in zip(axes, METRICS, strict=True):
        for mode in MODES:
            mine = [r for r in rows if r["mode"] == mode]
            axis.plot([r["iterations"] for r in mine], [r[metric] for r in mine], "o-", label=mode)
        axis.set_title(metric)
        axis.set_xlabel("iterations I")
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(options.results / "fig10_iterations.png", dpi=120)
    print_table("Fig. 10: detection against iterations", rows)


if __name__ == "__main__":
    main()
