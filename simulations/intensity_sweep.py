"""How detection grows with the size of the faults: federated BiWGAN-GP and the control rows
against the injection intensity (the change of each touched metric, in train standard
deviations; the default is 1.5).

Run ``python simulations/intensity_sweep.py [--intensities 1.5,3,5] [--rate R] [--data SOURCE]``:
writes ``intensity_sweep.csv`` and ``intensity_sweep.png`` (F1 at the deployable threshold and
VUS-PR of the model, VUS-PR of each control, means over monitors). ``--rate`` sets the share of
anomalous validation and test steps (``data.injection.rate``; 0.5 is the balance the paper's
tables imply, see ``tables_2_5.py --protocol paper``), and the files get ``-rate<R>`` added.
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
    parser.add_argument("--rate", type=float, default=None, help="data.injection.rate")
    options = parser.parse_args()
    balance = {} if options.rate is None else {"data.injection.rate": options.rate}
    name = "intensity_sweep" + ("" if options.rate is None else f"-rate{options.rate:g}")
    rows = []
    with shared_runs(options) as runs:
        for intensity in (float(v) for v in options.intensities.split(",")):
            extra = {"data.injection.intensity": intensity, **balance}
            detection = runs.summary(options.mode, extra=extra)[1]["detection"]
            overall = detection["overall"]
            row = {
                "intensity": intensity,
                "anomalous_share": overall["anomalous_share"],
                "f1": overall["f1"],
                "f1_oracle": overall["f1_oracle"],
                "vus_pr": overall["vus_pr"],
            }
            row.update({f"{c}_vus_pr": v["vus_pr"] for c, v in detection["controls"].items()})
            rows.append(row)
    write_csv(options.results / f"{name}.csv", rows)
    figure, axis = plt.subplots(figsize=(7, 4))
    x = [r["intensity"] for r in rows]
    for key in rows[0]:
        if key not in ("intensity", "anomalous_share"):
            axis.plot(x, [r[key] for r in rows], "o-", label=key)
    axis.set_xlabel("injection intensity (train standard deviations)")
    axis.set_title(f"{rows[0]['anomalous_share']:.0%} of test steps anomalous", fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(options.results / f"{name}.png", dpi=120)
    print_table(f"Detection against fault size ({options.mode})", rows)


if __name__ == "__main__":
    main()
