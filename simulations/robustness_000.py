"""Robustness to the size of seed 000's perturbations (its Fig. 5): detection of federated
ATTAE and BiWGAN-GP against the injection intensity of sudden spikes, periodic drift and
resource jitter.

Run ``python simulations/robustness_000.py [--intensities 0.5,1,2,3] [--models attae,biwgan-gp]
[--data SOURCE] [--iterations I]``: writes ``robustness_000.csv`` and ``robustness_000.png``
(F1 at the deployable threshold, accuracy, AUC-ROC and VUS-PR, means over monitors, per model
against the intensity in train standard deviations).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from reproduction import arguments, save_and_print, shared_runs, write_csv

PERTURBATIONS = ["sudden_spike", "periodic_drift", "resource_jitter"]
MEASURES = ("f1", "accuracy", "auc_roc", "vus_pr")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--intensities", default="0.5,1,2,3", help="comma-separated")
    parser.add_argument("--models", default="attae,biwgan-gp", help="comma-separated")
    parser.add_argument("--mode", default="federated")
    options = parser.parse_args()
    rows = []
    with shared_runs(options) as runs:
        for model in options.models.split(","):
            for intensity in (float(v) for v in options.intensities.split(",")):
                extra = {"data.injection.types": PERTURBATIONS,
                         "data.injection.intensity": intensity}  # fmt: skip
                overall = runs.summary(options.mode, model, extra=extra)[1]["detection"]["overall"]
                rows.append({"model": model, "intensity": intensity,
                             **{m: overall[m] for m in MEASURES}})  # fmt: skip
    write_csv(options.results / "robustness_000.csv", rows)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        x = [r["intensity"] for r in mine]
        axes[0].plot(x, [r["f1"] for r in mine], "o-", label=f"{model} F1")
        axes[1].plot(x, [r["vus_pr"] for r in mine], "o-", label=f"{model} VUS-PR")
    for axis in axes:
        axis.set_xlabel("perturbation intensity (train standard deviations)")
        axis.legend(fontsize=8)
    figure.suptitle(f"{options.mode}: sudden spike, periodic drift, resource jitter")
    save_and_print(
        figure,
        options.results / "robustness_000.png",
        f"Detection against perturbation intensity ({options.mode})",
        rows,
    )


if __name__ == "__main__":
    main()
