"""How hard the injected anomalies are for a naive detector.

Run ``python simulations/injection_difficulty.py [SOURCE]`` (default ``synthetic-vnf``). For each
monitor of the source's default layout it flags a test step when any metric lies more than three
train standard deviations from its train mean, and prints, per anomaly type, the share of
anomalous steps flagged (recall) and the share of normal steps flagged (false-positive rate). A
high recall with a low false-positive rate would mean the defaults are too easy.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np

from fedanomaly.config import parse_source
from fedanomaly.config.overrides import resolve_topology
from fedanomaly.data.injection import TYPE_NAMES
from fedanomaly.data.pipeline import prepare_monitors


def main() -> None:
    source = parse_source(sys.argv[1] if len(sys.argv) > 1 else "synthetic-vnf")
    monitors = prepare_monitors(resolve_topology(source=source))
    flagged: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for monitor in monitors:
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
    print(f"normal_flagged={flagged['normal'] / total['normal']:.3f}")


if __name__ == "__main__":
    main()
