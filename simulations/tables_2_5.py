"""Tables 2-5 of seed 002: accuracy, precision, recall and F1 per anomaly type and mode.

Run ``python simulations/tables_2_5.py [--data SOURCE] [--iterations I] [--protocol P]
[--pooling mean|max]``:
trains (or reads) ``topologies/paper.yaml`` in the four modes and writes ``tables_2_5.csv`` and
``tables_2_5.png`` (our F1 beside the paper's, per type and mode) into ``--results``
(``tables_2_5-one-type.*`` for the one-type protocol, ``-max`` added with ``--pooling max``,
eq. 28's reconstruction term pooled by the largest metric instead of the mean).

Protocols:

- ``pooled`` (default, 4 runs): the four types injected together; a type's figures count its
  anomalous test steps against all normal steps, so its precision carries every false alarm
  while only about a quarter of the anomalies are its own;
- ``one-type`` (16 runs): one run per type and mode with only that type injected, in the
  validation part (so eq. 33 is calibrated on it) and the test part, the way the paper's
  tables report one anomaly case each.

Figures are at the deployable threshold (eq. 33 on the validation part), pooled over the
monitors' test steps.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from reproduction import MODES, PAPER_TABLES, TYPES, arguments, print_table, shared_runs, write_csv

METRICS = ("accuracy", "precision", "recall", "f1")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument(
        "--protocol",
        choices=("pooled", "one-type"),
        default="pooled",
        help="pooled: the four types in one run; one-type: one run per type (the paper's tables)",
    )
    parser.add_argument(
        "--pooling",
        choices=("mean", "max"),
        default="mean",
        help="how eq. 28's reconstruction term pools a window's metrics (model.metric_pooling)",
    )
    options = parser.parse_args()
    one_type = options.protocol == "one-type"
    pooling = {"model.metric_pooling": "max"} if options.pooling == "max" else {}
    with shared_runs(options) as runs:
        if one_type:
            summaries = {
                (kind, mode): runs.summary(mode, extra={"data.injection.types": [kind], **pooling})
                for kind in TYPES
                for mode in MODES
            }
        else:
            pooled = {mode: runs.summary(mode, extra=pooling) for mode in MODES}
            summaries = {(kind, mode): pooled[mode] for kind in TYPES for mode in MODES}
    summaries = {key: summary for key, (_, summary) in summaries.items()}
    rows = []
    for kind in TYPES:
        for mode in MODES:
            ours = summaries[kind, mode]["detection"]["by_type"].get(kind)
            if ours is None:
                continue
            row = {"type": kind, "mode": mode}
            for metric in METRICS:
                row[metric] = ours[metric]
                row[f"paper_{metric}"] = PAPER_TABLES[kind][mode][metric]
            rows.append(row)
    name = ("tables_2_5-one-type" if one_type else "tables_2_5") + ("-max" if pooling else "")
    write_csv(options.results / f"{name}.csv", rows)
    print_table(f"Tables 2-5 ({options.protocol}): ours beside seed 002's", rows)
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
    figure.savefig(options.results / f"{name}.png", dpi=120)
    # the mean over types of each mode's F1 (with one type per run, each run's overall F1)
    overall = {
        m: float(np.mean([summaries[k, m]["detection"]["overall"]["f1"] for k in TYPES]))
        for m in MODES
    }
    print(" ".join(f"f1_{m}={overall[m]:.3f}" for m in MODES))
    print(
        f"federated_ge_standalone={overall['federated'] >= overall['standalone']} "
        f"federated_within_0.01_of_centralized="
        f"{abs(overall['federated'] - overall['centralized']) <= 0.01}"
    )


if __name__ == "__main__":
    main()
