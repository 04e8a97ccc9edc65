"""Federated training at 9, 90, 300 and 1,000 monitors on one machine: speed, memory, bytes.

Run ``python simulations/bench_scale.py [--sizes 9,90,300,1000] [--iterations I]``. Each size is
a real federated run (``fedanomaly.simulation.simulate``, its own local Ray session) of the
built-in data, two days of minutes per VM, batch M = 16, L = I / 3, with
``placement.slices_per_node`` set so that the slices and their monitors share two Ray actors
(one per core) and the critics of each actor's monitors train as one batch. Detection runs
without the control detectors (they are not what is measured here).

Per size it prints: slices and monitors, Ray actors, iterations per second (over the FedAvg
rounds after the first, so start-up is left out), milliseconds per iteration and per monitor
(flat or falling means time grows no faster than linearly), the peak resident memory of the
whole process tree (the sum of RSS over this process and every child, sampled every 0.2 s; PSS
beside it counts shared pages once), and the metered bytes per iteration on the monitor-slice
and slice-controller links. The last line is
``monitors=1000 iters_per_s=<x> peak_rss_gb=<y>``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from fedanomaly.config import resolve_topology
from fedanomaly.config.schema import Topology
from fedanomaly.simulation import simulate

SLICES = {9: 3, 90: 3, 300: 10, 1000: 30}
NODES = 2


class TreeMemory:
    """Peak RSS and PSS summed over this process and all its descendants, sampled in a
    background thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            rss = pss = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss += info.rss
                pss += info.pss
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self._stop.wait(self.interval)


def topology_for(monitors: int, iterations: int) -> Topology:
    """The benchmark's topology of ``monitors`` monitors."""
    slices = SLICES.get(monitors, max(1, round(monitors / 33)))
    return resolve_topology(
        slices=slices,
        monitors=monitors,
        settings={
            "name": f"scale-{monitors}",
            "data.source.length": 2880,
            "model.batch_size": 16,
            "model.iterations": iterations,
            "model.local_iterations": iterations // 3,
            "placement.slices_per_node": math.ceil(slices / NODES),
            "evaluation.controls": [],
        },
    )


def timed_run(topology: Topology) -> tuple[dict[str, Any], float]:
    """A real run of ``topology`` in a scratch directory: its summary, and its iterations per
    second over the FedAvg rounds after the first (so start-up is left out)."""
    round_ends: list[tuple[int, float]] = []

    def on_progress(done: int, _latest: dict[str, object]) -> None:
        round_ends.append((done, time.perf_counter()))

    with tempfile.TemporaryDirectory() as scratch:
        summary = simulate(topology, Path(scratch) / "run", on_progress=on_progress)
    (first_done, first_end), (last_done, last_end) = round_ends[0], round_ends[-1]
    return summary, (last_done - first_done) / (last_end - first_end)


def measure(monitors: int, iterations: int) -> dict[str, float]:
    """One federated run of ``monitors`` monitors, measured."""
    topology = topology_for(monitors, iterations)
    with TreeMemory() as memory:
        summary, rate = timed_run(topology)
    traffic = summary["communication"]
    per_iteration = {
        link: (traffic[link]["up_bytes"] + traffic[link]["down_bytes"]) / iterations
        for link in ("monitor_slice", "slice_controller")
    }
    return {
        "slices": len(topology.slices),
        "monitors": monitors,
        "actors": NODES if len(topology.slices) >= NODES else 1,
        "iters_per_s": rate,
        "ms_per_iteration_per_monitor": 1000 / rate / monitors,
        "peak_rss_gb": memory.peak_rss / 1e9,
        "peak_pss_gb": memory.peak_pss / 1e9,
        "monitor_slice_bytes_per_iteration": per_iteration["monitor_slice"],
        "slice_controller_bytes_per_iteration": per_iteration["slice_controller"],
        "wall_seconds": summary["wall_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="9,90,300,1000", help="monitor counts")
    parser.add_argument("--iterations", type=int, default=12, help="iterations I per run")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    header = (
        f"{'monitors':>8} {'slices':>6} {'actors':>6} {'iters/s':>8} {'ms/iter/monitor':>15} "
        f"{'peak RSS GB':>11} {'peak PSS GB':>11} {'monitor-slice B/iter':>20} "
        f"{'slice-ctrl B/iter':>17} {'wall s':>7}"
    )
    print(header)
    rows = []
    for size in sizes:
        row = measure(size, args.iterations)
        rows.append(row)
        print(
            f"{size:>8} {row['slices']:>6} {row['actors']:>6} {row['iters_per_s']:>8.3f} "
            f"{row['ms_per_iteration_per_monitor']:>15.2f} {row['peak_rss_gb']:>11.2f} "
            f"{row['peak_pss_gb']:>11.2f} {row['monitor_slice_bytes_per_iteration']:>20,.0f} "
            f"{row['slice_controller_bytes_per_iteration']:>17,.0f} {row['wall_seconds']:>7.0f}",
            flush=True,
        )
    first, last = rows[0], rows[-1]
    growth = (first["iters_per_s"] / last["iters_per_s"]) / (last["monitors"] / first["monitors"])
    print(
        f"time per iteration grew {first['iters_per_s'] / last['iters_per_s']:.1f}x for "
        f"{last['monitors'] / first['monitors']:.0f}x the monitors (ratio to linear: {growth:.2f})"
    )
    print(
        f"monitors={last['monitors']} iters_per_s={last['iters_per_s']:.3f} "
        f"peak_rss_gb={last['peak_rss_gb']:.2f}"
    )


if __name__ == "__main__":
    main()
