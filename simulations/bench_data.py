"""Speed of the data layer: synthetic-vnf generation and a whole topology's preparation.

Run ``python simulations/bench_data.py``. It prints one line per measurement and, last,
``synthetic_rows_per_s=<x>`` for one VM of a million rows (the target is about a million rows in
a second on one core). Each figure is the best of three runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from fedanomaly.config import load_topology
from fedanomaly.config.schema import SyntheticVnfConfig
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.data.sources.synthetic import SyntheticVnfSource

TOPOLOGIES = Path(__file__).resolve().parents[1] / "topologies"


def best_of(runs: int, action: Callable[[], object]) -> float:
    """Shortest wall time of ``runs`` calls of ``action``, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    rows = 1_000_000
    source = SyntheticVnfSource(SyntheticVnfConfig(length=rows), seed=0)
    counter = iter(range(1_000))
    generate = best_of(3, lambda: source.load(f"vm-{next(counter)}", f"slice-{next(counter)}"))
    print(f"synthetic-vnf: {rows} rows x 26 metrics in {generate:.2f} s")

    paper = load_topology(TOPOLOGIES / "paper.yaml")
    prepare = best_of(3, lambda: prepare_monitors(paper))
    steps = paper.data.source.length * len(paper.monitors)
    print(f"paper.yaml: {steps} steps over 9 monitors split, injected, scaled in {prepare:.2f} s")
    print(f"synthetic_rows_per_s={rows / generate:.0f}")


if __name__ == "__main__":
    main()
