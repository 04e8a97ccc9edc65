"""How hard the anomalies are for two naive detectors that learn nothing but train statistics.

Run ``python simulations/injection_difficulty.py [SOURCE] [--slices S --monitors N]`` (default
``synthetic-vnf``). For each monitor of the source's default layout (or of S slices of N
monitors, as ``simulate``'s):

- the three-sigma rule flags a test step when any metric lies more than three train standard
  deviations from its train mean; printed per anomaly type: the share of anomalous steps flagged
  (recall) and the share of normal steps flagged (false-positive rate). A high recall with a low
  false-positive rate would mean the defaults are too easy;
- the value z-score, the ``zscore`` control row of a run (eq. 28's reconstruction term with the
  values in place of the reconstruction errors; :mod:`fedanomaly.detection.controls`), without
  a run: its VUS-PR and AUC-PR (means over monitors, VUS window as in a run) are what a
  detector must beat to have learned anything beyond each metric's usual range.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from fedanomaly.config import parse_source
from fedanomaly.config.overrides import resolve_topology
from fedanomaly.data.injection import TYPE_NAMES
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.detection.controls import control_scores
from fedanomaly.detection.detector import part_types
from fedanomaly.errors import InputError
from fedanomaly.evaluation.pointwise import ranking_metrics
from fedanomaly.evaluation.ranges import estimate_period, volume_under_surface


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default="synthetic-vnf", help="data source")
    parser.add_argument("--slices", type=int, help="a balanced layout (with --monitors)")
    parser.add_argument("--monitors", type=int, help="a balanced layout (with --slices)")
    options = parser.parse_args()
    try:
        source = parse_source(options.source)
        topology = resolve_topology(slices=options.slices, monitors=options.monitors, source=source)
        monitors = prepare_monitors(topology)
    except InputError as error:
        parser.error(str(error))
    length, stride = topology.model.window_length, topology.model.window_stride
    flagged: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    vus_pr, auc_pr = [], []
    for monitor in monitors:
        labels = (part_types(monitor, "test") != 0).astype(int)
        if labels.any():
            scores = control_scores("zscore", monitor, length, stride, topology.seed).test
            window = estimate_period(monitor.vms[0].test.scaled[:, 0])
            vus_pr.append(volume_under_surface(labels, scores, window).pr)
            auc_pr.append(ranking_metrics(labels, scores)["auc_pr"])
        for vm in monitor.vms:
            mean, std = vm.train.raw.mean(axis=0), vm.train.raw.std(axis=0)
            std[std == 0] = np.inf
            alarm = (np.abs(vm.test.raw - mean) / std > 3).any(axis=1)
            for code in np.unique(vm.test.types):
                name = TYPE_NAMES[code]
                chosen = vm.test.types == code
                flagged[name] += int(alarm[chosen].sum())
                total[name] += int(chosen.sum())
    print(f"three-sigma rule on {len(monitors)} monitors of {source.type}, test parts")
    for name in sorted(total):
        print(f"  {name:20s} flagged {flagged[name] / total[name]:6.1%} of {total[name]} steps")
    print(
        f"value z-score (window mean, {length} steps): VUS-PR {np.mean(vus_pr):.3f}, "
        f"AUC-PR {np.mean(auc_pr):.3f} (means over {len(vus_pr)} monitors with anomalies)"
    )
    print(f"normal_flagged={flagged['normal'] / total['normal']:.3f}")


if __name__ == "__main__":
    main()
