"""Model comparison like seed 000's Tables 1-2: accuracy, AUC and F1 of each detector in the
four modes, with the control rows on the same windows.

Run ``python simulations/comparison_000.py [--models biwgan-gp,attae] [--data SOURCE]
[--iterations I]``: trains (or reads) ``topologies/paper.yaml`` per model and mode and writes
``comparison_000.csv`` and ``comparison_000.png`` (F1 at the deployable threshold and VUS-PR per
model and mode, the controls as lines). Columns: accuracy, AUC-ROC, AUC-PR, F1 at the
deployable threshold, F1 at the oracle threshold and VUS-PR, means over monitors; a control row
has the columns the controls report (AUC-PR, F1 at their deployable threshold, VUS-PR). With
``--data smd:PATH`` the real labels of SMD are used (no injection in the test parts).
``cmsf-attae`` (CMSF-GAN generating anomalies for ATTAE) is not yet a model of the simulator.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from reproduction import MODES, arguments, print_table, shared_runs, write_csv

COLUMNS = ("accuracy", "auc_roc", "auc_pr", "f1", "f1_oracle", "vus_pr")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--models", default="biwgan-gp,attae", help="comma-separated")
    options = parser.parse_args()
    rows, controls = [], {}
    with shared_runs(options) as runs:
        for model in options.models.split(","):
            for mode in MODES:
                detection = runs.summary(mode, model)[1]["detection"]
                rows.append({"detector": model, "mode": mode,
                             **{c: detection["overall"][c] for c in COLUMNS}})  # fmt: skip
                for name, entry in detection["controls"].items():
                    controls.setdefault(name, entry)  # the same windows in every run
    for name, entry in controls.items():
        rows.append({"detector": f"control: {name}", "mode": "-",
                     **{c: entry.get(c, float("nan")) for c in COLUMNS}})  # fmt: skip
    write_csv(options.results / "comparison_000.csv", rows)
    print_table("Detectors and controls (means over monitors)", rows)
    models = [r for r in rows if r["mode"] != "-"]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for axis, measure in zip(axes, ("f1", "vus_pr"), strict=True):
        names = list(dict.fromkeys(r["detector"] for r in models))
        width = 0.8 / len(names)
        for k, name in enumerate(names):
            values = [next(r[measure] for r in models if r["detector"] == name and r["mode"] == m)
                      for m in MODES]  # fmt: skip
            axis.bar(np.arange(len(MODES)) + k * width, values, width, label=name)
        for k, (name, entry) in enumerate(controls.items()):
            if entry.get(measure) is not None:
                axis.axhline(entry[measure], color=f"C{k + len(names)}", linestyle=":",
                             label=f"control: {name}")  # fmt: skip
        axis.set_xticks(np.arange(len(MODES)) + 0.4 - width / 2, MODES)
        axis.set_title(measure)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(options.results / "comparison_000.png", dpi=120)


if __name__ == "__main__":
    main()
