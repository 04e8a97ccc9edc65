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
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml
from scipy.ndimage import binary_dilation


def alarm_positions(run: Path) -> dict[str, float]:
    """Counts of the run's normal steps, false alarms and misses, near events and in all."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    margin = int(config["model"]["window_length"]) - 1
    reach = np.ones(2 * margin + 1, dtype=bool)
    counts = dict.fromkeys(("normal", "near", "alarms", "alarms_near", "anomalous", "missed"), 0)
    for path in sorted(run.glob("scores-*.npz")):
        saved = np.load(path)
        anomalous, alarm = saved["labels"].astype(bool), saved["preds"].astype(bool)
        near = binary_dilation(anomalous, structure=reach) & ~anomalous
        counts["normal"] += int((~anomalous).sum())
        counts["near"] += int(near.sum())
        counts["alarms"] += int((alarm & ~anomalous).sum())
        counts["alarms_near"] += int((alarm & near).sum())
        counts["anomalous"] += int(anomalous.sum())
        counts["missed"] += int((~alarm & anomalous).sum())
    return {"margin": margin, **counts}


def share(part: int, whole: int) -> str:
    """``part / whole`` as a percentage, or ``-`` for an empty whole."""
    return f"{part / whole:.1%}" if whole else "-"


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python simulations/alarm_positions.py RUN_DIR [RUN_DIR ...]")
    for name in sys.argv[1:]:
        c = alarm_positions(Path(name))
        print(
            f"{Path(name).name}: normal steps within {c['margin']} steps of an event "
            f"{share(c['near'], c['normal'])}; false alarms {c['alarms']}, "
            f"{share(c['alarms_near'], c['alarms'])} of them there; "
            f"missed {c['missed']} of {c['anomalous']} anomalous steps"
        )


if __name__ == "__main__":
    main()
