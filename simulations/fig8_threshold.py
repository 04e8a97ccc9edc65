"""Fig. 8 of seed 002: precision, recall and F1 against the threshold (federated mode).

Run ``python simulations/fig8_threshold.py [--data SOURCE] [--iterations I]``: trains (or
reads) the federated run of ``topologies/paper.yaml``, sweeps a threshold offset over every
monitor's saved test scores (``scores-<monitor>.npz``; each monitor's threshold is its eq. 33
threshold plus the offset) and writes ``fig8_threshold.csv`` and ``fig8_threshold.png``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from reproduction import arguments, print_table, shared_runs, write_csv

from fedanomaly.evaluation.pointwise import binary_metrics


def main() -> None:
    options = arguments(__doc__.splitlines()[0]).parse_args()
    with shared_runs(options) as runs:
        path, summary = runs.summary("federated")
    monitors = summary["detection"]["per_monitor"]
    saved = {name: np.load(path / f"scores-{name}.npz") for name in monitors}
    rows = []
    for offset in np.linspace(-2.0, 4.0, 61):
        labels = np.concatenate([saved[n]["labels"] for n in monitors])
        preds = np.concatenate(
            [saved[n]["scores"] > monitors[n]["threshold"] + offset for n in monitors]
        ).astype(np.int8)
        rows.append({"offset": float(offset), **binary_metrics(labels, preds)})
    write_csv(options.results / "fig8_threshold.csv", rows)
    figure, axis = plt.subplots(figsize=(7, 4))
    for key in ("precision", "recall", "f1"):
        axis.plot([r["offset"] for r in rows], [r[key] for r in rows], label=key)
    axis.axvline(0.0, color="grey", ls="--", lw=1, label="eq. 33 threshold")
    axis.set_xlabel("threshold offset from each monitor's eq. 33 threshold (score units)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(options.results / "fig8_threshold.png", dpi=120)
    best = max(rows, key=lambda r: r["f1"])
    at_zero = min(rows, key=lambda r: abs(r["offset"]))
    print_table(
        "Fig. 8: pooled test steps",
        [{"threshold": "eq. 33", **at_zero}, {"threshold": "best offset (oracle)", **best}],
    )


if __name__ == "__main__":
    main()
