"""Tables 2-5 of seed 002: accuracy, precision, recall and F1 per anomaly type and mode.

Run ``python simulations/tables_2_5.py [--data SOURCE] [--iterations I]``: trains (or reads)
``topologies/paper.yaml`` in the four modes and writes ``tables_2_5.csv`` and
``tables_2_5.png`` (our F1 beside the paper's, per type and mode) into ``--results``.
Figures are at the deployable threshold (eq. 33 on the validation part), on test steps of the
type's anomalies against all normal steps, pooled over the monitors.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from reproduction import MODES, PAPER_TABLES, TYPES, arguments, print_table, shared_runs, write_csv

METRICS = ("accuracy", "precision", "recall", "f1")


def main() -> None:
    options = arguments(__doc__.splitlines()[0]).parse_args()
    with shared_runs(options) as runs:
        summaries = {mode: runs.summary(mode)[1] for mode in MODES}
    rows = []
    for kind in TYPES:
        for mode in MODES:
            ours = summaries[mode]["detection"]["by_type"].get(kind)
            if ours is None:
                continue
            row = {"type": kind, "mode": mode}
            for metric in METRICS:
                row[metric] = ours[metric]
                row[f"paper_{metric}"] = PAPER_TABLES[kind][mode][metric]
            rows.append(row)
    out = options.results / "tables_2_5.csv"
    write_csv(out, rows)
    print_table("Tables 2-5: ours beside seed 002's", rows)
    figure, axes = plt.subplots(1, len(TYPES), figsize=(16, 3.8), sharey=True)
    for axis, kind in zip(axes, TYPES, strict=True):
        mine = [r for r in rows if r["type"] == kind]
        x = np.arange(len(mine))
        axis.bar(x - 0.2, [r["f1"] for r in mine], 0.4, label="ours")
        axis.bar(x + 0.2, [r["paper_f1"] for r in mine], 0.4, label="paper")
        axis.set_xticks(x, [r["mode"] for r in mine], rotation=30)
        axis.set_title(kind)
    axes[0].set_ylabel("F1 (deployable threshold)")
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(options.results / "tables_2_5.png", dpi=120)
    overall = {m: summaries[m]["detection"]["overall"]["f1"] for m in MODES}
    print(" ".join(f"f1_{m}={overall[m]:.3f}" for m in MODES))
    print(
        f"federated_ge_standalone={overall['federated'] >= overall['standalone']} "
        f"federated_within_0.01_of_centralized="
        f"{abs(overall['federated'] - overall['centralized']) <= 0.01}"
    )


if __name__ == "__main__":
    main()
