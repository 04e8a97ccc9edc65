"""How detection grows with the size of the faults: federated BiWGAN-GP and the control rows
against the injection intensity (the change of each touched metric, in train standard
deviations; the default is 1.5).

Run ``python simulations/intensity_sweep.py [--intensities 1.5,3,5] [--data SOURCE]``: writes
``intensity_sweep.csv`` and ``intensity_sweep.png`` (F1 at the deployable threshold and VUS-PR
of the model, VUS-PR of each control, means over monitors).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from reproduction import arguments, print_table, shared_runs, write_csv


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--intensities", default="1.5,3,5", help="comma-separated")
    parser.add_argument("--mode", default="federated")
    options = parser.parse_args()
    rows = []
    with shared_runs(options) as runs:
        for intensity in (float(v) for v in options.intensities.split(",")):
            extra = {"data.injection.intensity": intensity}
            detection = runs.summary(options.mode, extra=extra)[1]["detection"]
            overall = detection["overall"]
            row = {
                "intensity": intensity,
                "f1": overall["f1"],
                "f1_oracle": overall["f1_oracle"],
                "vus_pr": overall["vus_pr"],
            }
            row.update({f"{c}_vus_pr": v["vus_pr"] for c, v in detection["controls"].items()})
            rows.append(row)
    write_csv(options.results / "intensity_sweep.csv", rows)
    figure, axis = plt.subplots(figsize=(7, 4))
    x = [r["intensity"] for r in rows]
    for key in rows[0]:
        if key != "intensity":
            axis.plot(x, [r[key] for r in rows], "o-", label=key)
    axis.set_xlabel("injection intensity (train standard deviations)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(options.results / "intensity_sweep.png", dpi=120)
    print_table(f"Detection against fault size ({options.mode})", rows)


if __name__ == "__main__":
    main()
