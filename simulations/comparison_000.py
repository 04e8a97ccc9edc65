"""Model comparison like seed 000's Tables 1-2: accuracy, AUC and F1 of each detector in the
four modes, with the control rows on the same windows.

Run ``python simulations/comparison_000.py [--models biwgan-gp,attae,cmsf-attae]
[--modes centralized,standalone,distributed,federated] [--data SOURCE] [--topology FILE]
[--iterations I] [--score mse|standardized|robust]``: trains (or reads)
``topologies/paper.yaml`` (or ``--topology``) per model and mode and writes
``comparison_000<-source><-score>.csv``,
``...-types.csv`` and ``....png``. ``--score`` is the autoencoders' reconstruction score
(``model.reconstruction_score``; default the topology's); biwgan-gp's is eq. 28 whatever it says.

Columns, means over monitors: accuracy, AUC-ROC, AUC-PR, F1 at each deployable threshold
(``f1_validation``: eq. 33 with the labelled validation anomalies; ``f1_pot`` and ``f1_sigma``:
peaks over threshold and mean + beta sigma of the training scores; ``f1_adaptive``: ATTAE's
mu_t + beta sigma_t; these three use no labels; ``f1_generated``: eq. 33 with CMSF-GAN's
generated anomalies instead of labels, cmsf-attae only), F1 at the oracle threshold and
VUS-PR. A control row has the columns the controls report. The types table gives F1 per
injected type at each model's own threshold: eq. 33 for biwgan-gp and attae, ``generated`` for
cmsf-attae (which uses no labels). With ``--data smd:PATH --topology topologies/smd.yaml`` the
real labels of SMD are used (no injection in the test parts; the types table then has one row,
``labelled``).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from reproduction import MODES, arguments, print_table, shared_runs, write_csv

COLUMNS = ("accuracy", "auc_roc", "auc_pr", "f1_oracle", "vus_pr")
THRESHOLDS = ("validation", "pot", "sigma", "adaptive", "generated")
#: Each model's own deployable threshold.
OWN_THRESHOLD = {"cmsf-attae": "generated"}
#: Models whose score ``--score`` chooses.
AUTOENCODERS = ("attae", "cmsf-attae")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--models", default="biwgan-gp,attae,cmsf-attae", help="comma-separated")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated")
    parser.add_argument(
        "--score", choices=("mse", "standardized", "robust"), help="attae's and cmsf-attae's score"
    )
    options = parser.parse_args()
    modes = options.modes.split(",")
    rows, types, controls = [], [], {}
    with shared_runs(options) as runs:
        for model in options.models.split(","):
            for mode in modes:
                threshold = OWN_THRESHOLD.get(model, "validation")
                extra = {} if threshold == "validation" else {"evaluation.threshold": threshold}
                if options.score and model in AUTOENCODERS:
                    extra["model.reconstruction_score"] = options.score
                detection = runs.summary(mode, model, extra=extra)[1]["detection"]
                by_threshold = detection["by_threshold"]
                rows.append({
                    "detector": model, "mode": mode,
                    **{c: detection["overall"][c] for c in COLUMNS},
                    **{f"f1_{t}": by_threshold.get(t, {}).get("f1", float("nan"))
                       for t in THRESHOLDS},
                })  # fmt: skip
                types.append({"detector": model, "mode": mode, "threshold": threshold,
                              **{t: e["f1"] for t, e in detection["by_type"].items()}})  # fmt: skip
                for name, entry in detection["controls"].items():
                    # the same windows in every run; the untrained control is each model's
                    # own (cmsf-attae's detector is an untrained ATTAE too)
                    own = "attae" if model == "cmsf-attae" else model
                    label = f"{name} {own}" if name == "untrained" else name
                    controls.setdefault(label, entry)
    for name, entry in controls.items():
        rows.append({"detector": f"control: {name}", "mode": "-",
                     **{c: entry.get(c, float("nan")) for c in COLUMNS},
                     "f1_validation": entry.get("f1", float("nan"))})  # fmt: skip
    source = f"-{options.data.split(':')[0]}" if options.data else ""
    score = f"-{options.score}" if options.score else ""
    stem = options.results / f"comparison_000{source}{score}"
    write_csv(stem.with_name(stem.name + ".csv"), rows)
    write_csv(stem.with_name(stem.name + "-types.csv"), types)
    print_table("Detectors and controls (means over monitors)", rows)
    print_table("F1 per type at each model's own threshold", types)
    models = [r for r in rows if r["mode"] != "-"]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    for axis, measure in zip(axes, ("f1_validation", "vus_pr"), strict=True):
        names = list(dict.fromkeys(r["detector"] for r in models))
        width = 0.8 / len(names)
        for k, name in enumerate(names):
            values = [next(r[measure] for r in models if r["detector"] == name and r["mode"] == m)
                      for m in modes]  # fmt: skip
            axis.bar(np.arange(len(modes)) + k * width, values, width, label=name)
        for k, (name, entry) in enumerate(controls.items()):
            value = entry.get("f1" if measure == "f1_validation" else measure)
            if value is not None:
                axis.axhline(value, color=f"C{k + len(names)}", linestyle=":",
                             label=f"control: {name}")  # fmt: skip
        axis.set_xticks(np.arange(len(modes)) + 0.4 - width / 2, modes)
        axis.set_title(measure)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=5, fontsize=8)
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    figure.savefig(stem.with_name(stem.name + ".png"), dpi=120)


if __name__ == "__main__":
    main()
