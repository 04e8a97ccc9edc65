"""Where a run's detection errors sit: how many false alarms fall on normal steps next to an
anomalous event, where windows that hold the step also hold part of the event.

Run ``python simulations/alarm_positions.py RUN_DIR [RUN_DIR ...]`` on run directories of
``fedanomaly simulate``: from each monitor's ``scores-<monitor>.npz`` (labels and predictions at
the deployable threshold) and the run's window length T (``config.yaml``), it prints the share of
normal test steps within T - 1 steps of an anomalous step, the false alarms and the share of them
in that margin, and the missed anomalous steps. A step's score is the mean over the T windows
that hold it, so an event raises the scores of up to T - 1 normal steps on each side; where
events are dense (half the steps anomalous, as in the paper's tables) few normal steps lie
outside that margin.

Runs that saved ``beyond_range`` (since 2026-12-06) also give the false alarms on normal steps
where a metric lies outside the range it took in the train part (load the model never saw),
and the F1 at the deployable threshold, mean over monitors, with and without those normal
steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml
from scipy.ndimage import binary_dilation

from fedanomaly.evaluation.pointwise import binary_metrics


def alarm_positions(run: Path) -> dict[str, float]:
    """Counts of the run's normal steps, false alarms and misses, near events, beyond the
    training range and in all; F1 with and without the normal steps beyond the range."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    margin = int(config["model"]["window_length"]) - 1
    reach = np.ones(2 * margin + 1, dtype=bool)
    names = ("normal", "near", "beyond", "alarms", "alarms_near", "alarms_beyond")
    counts = dict.fromkeys((*names, "anomalous", "missed"), 0)
    f1_all, f1_within = [], []
    for path in sorted(run.glob("scores-*.npz")):
        saved = np.load(path)
        anomalous, alarm = saved["labels"].astype(bool), saved["preds"].astype(bool)
        if "beyond_range" in saved.files:
            beyond = saved["beyond_range"] & ~anomalous
            counts["beyond"] += int(beyond.sum())
            counts["alarms_beyond"] += int((alarm & beyond).sum())
            f1_all.append(binary_metrics(anomalous, alarm)["f1"])
            f1_within.append(binary_metrics(anomalous[~beyond], alarm[~beyond])["f1"])
        near = binary_dilation(anomalous, structure=reach) & ~anomalous
        counts["normal"] += int((~anomalous).sum())
        counts["near"] += int(near.sum())
        counts["alarms"] += int((alarm & ~anomalous).sum())
        counts["alarms_near"] += int((alarm & near).sum())
        counts["anomalous"] += int(anomalous.sum())
        counts["missed"] += int((~alarm & anomalous).sum())
    # means over monitors, leaving out those with nothing to find (as the run's summary does)
    f1 = {"f1": np.nanmean(f1_all), "f1_within": np.nanmean(f1_within)} if f1_all else {}
    return {"margin": margin, **counts, **f1}


def share(part: int, whole: int) -> str:
    """``part / whole`` as a percentage, or ``-`` for an empty whole."""
    return f"{part / whole:.1%}" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR",
                        help="run directories of fedanomaly simulate")  # fmt: skip
    runs = parser.parse_args().runs
    for run in runs:
        if not (run / "config.yaml").is_file() or not any(run.glob("scores-*.npz")):
            parser.error(f"{run}: not a run directory (no config.yaml and scores-*.npz)")
    for run in runs:
        c = alarm_positions(run)
        print(
            f"{run.name}: normal steps within {c['margin']} steps of an event "
            f"{share(c['near'], c['normal'])}; false alarms {c['alarms']}, "
            f"{share(c['alarms_near'], c['alarms'])} of them there; "
            f"missed {c['missed']} of {c['anomalous']} anomalous steps"
        )
        if "f1" in c:
            print(
                f"  normal steps beyond the training range {share(c['beyond'], c['normal'])}; "
                f"{share(c['alarms_beyond'], c['alarms'])} of the false alarms there; "
                f"F1 {c['f1']:.3f}, {c['f1_within']:.3f} without those normal steps"
            )


if __name__ == "__main__":
    main()
