"""Learning-rate and optimizer sensitivity of federated ATTAE (seed 000, Tables 3-4).

Run ``python simulations/sensitivity_000.py [--learning-rates 1e-4,5e-4,1e-3,5e-3]
[--optimizers adam,adamw,rmsprop,sgd] [--model attae] [--data SOURCE] [--iterations I]``: the
learning rates with Adam, then the optimizers at alpha = 1e-3; writes ``sensitivity_000.csv``
and ``sensitivity_000.png`` (accuracy, AUC-ROC, F1 at the deployable threshold and VUS-PR,
means over monitors).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from reproduction import arguments, save_and_print, shared_runs, write_csv

MEASURES = ("accuracy", "auc_roc", "f1", "vus_pr")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--learning-rates", default="1e-4,5e-4,1e-3,5e-3")
    parser.add_argument("--optimizers", default="adam,adamw,rmsprop,sgd")
    parser.add_argument("--model", default="attae")
    parser.add_argument("--mode", default="federated")
    options = parser.parse_args()
    points = [("adam", float(rate)) for rate in options.learning_rates.split(",")]
    points += [(name, 1e-3) for name in options.optimizers.split(",")]
    rows = []
    with shared_runs(options) as runs:
        for optimizer, rate in dict.fromkeys(points):
            extra = {"model.optimizer": optimizer, "model.learning_rate": rate}
            overall = runs.summary(options.mode, options.model, extra=extra)[1]["detection"]
            rows.append({"optimizer": optimizer, "learning_rate": rate,
                         **{m: overall["overall"][m] for m in MEASURES}})  # fmt: skip
    write_csv(options.results / "sensitivity_000.csv", rows)
    figure, (rates, optimizers) = plt.subplots(1, 2, figsize=(11, 4))
    by_rate = [r for r in rows if r["optimizer"] == "adam"]
    for measure in MEASURES:
        rates.plot([r["learning_rate"] for r in by_rate], [r[measure] for r in by_rate], "o-",
                   label=measure)  # fmt: skip
    rates.set(xscale="log", xlabel="learning rate (Adam)", title="Table 3: learning rate")
    at_default = [r for r in rows if r["learning_rate"] == 1e-3]
    width = 0.8 / len(MEASURES)
    for k, measure in enumerate(MEASURES):
        optimizers.bar([i + k * width for i in range(len(at_default))],
                       [r[measure] for r in at_default], width, label=measure)  # fmt: skip
    optimizers.set_xticks([i + 0.4 - width / 2 for i in range(len(at_default))],
                          [r["optimizer"] for r in at_default])  # fmt: skip
    optimizers.set(title="Table 4: optimizer (alpha 1e-3)")
    for axis in (rates, optimizers):
        axis.legend(fontsize=8)
    figure.suptitle(f"{options.mode} {options.model}")
    save_and_print(
        figure,
        options.results / "sensitivity_000.png",
        f"Learning-rate and optimizer sensitivity ({options.mode} {options.model})",
        rows,
    )


if __name__ == "__main__":
    main()
