"""What the tiers cost: federated training of 9 monitors through Ray actors and Flower, against
one in-process loop doing the same arithmetic without actors.

Run ``python simulations/bench_overhead.py [--iterations I]``. Both sides train the same
topology (``--slices 3 --monitors 9``, the defaults otherwise) with the same seed: per round each
slice manager runs L iterations of Algorithm 1 with its monitors, then G and E are averaged
weighted by the slices' training-set sizes. The tiered run is timed from the end of its first
FedAvg round to the end of its last (so Ray's and Flower's start-up are left out and reported
apart), the in-process loop over the same rounds. The last line is
``overhead_ratio=<tiers / in-process>``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fedanomaly.config import resolve_topology
from fedanomaly.config.schema import Topology
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.models.sides import GanShape
from fedanomaly.simulation import simulate
from fedanomaly.tiers.local_slice import weighted_average
from fedanomaly.tiers.monitor import CoLocatedMonitors, Monitor
from fedanomaly.tiers.slice_manager import LocalMonitors, SliceManager


def in_process(topology: Topology) -> list[float]:
    """Round end times of the same federated training in one process, no actors."""
    model = topology.model
    monitors = prepare_monitors(topology)
    shape = GanShape.from_config(model, len(monitors[0].metrics))
    managers, weights = [], []
    for slice_ in topology.slices:
        mine = [m for m in monitors if m.slice_name == slice_.name]
        local = [
            Monitor(
                m.name,
                m.windows("train", model.window_length, model.window_stride),
                shape,
                model,
                topology.seed,
                None,
            )
            for m in mine
        ]
        managers.append(
            SliceManager(
                slice_.name,
                shape,
                model,
                topology.seed,
                LocalMonitors(CoLocatedMonitors(local, batched=True)),
                None,
            )
        )
        weights.append(sum(len(m.windows) for m in local))
    ends = []
    for start in range(0, model.iterations, model.local_iterations):
        count = min(model.local_iterations, model.iterations - start)
        for manager in managers:
            manager.train(start, count)
        average = weighted_average([manager.side.arrays() for manager in managers], weights)
        for manager in managers:
            manager.side.load_arrays(average)
        ends.append(time.perf_counter())
    return ends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=None)
    args = parser.parse_args()
    settings = {"model.iterations": args.iterations}
    topology = resolve_topology(slices=3, monitors=9, settings=settings)

    round_ends: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = simulate(
            topology,
            Path(folder) / "run",
            on_progress=lambda done, _: round_ends.append(time.perf_counter()),
        )
    tiers = round_ends[-1] - round_ends[0]
    setup = round_ends[0] - started

    loop_start = time.perf_counter()
    ends = in_process(topology)
    loop = ends[-1] - ends[0]
    rounds = len(ends) - 1
    model = topology.model
    steps = rounds * model.local_iterations
    print(
        f"topology: 3 slices, 9 monitors, {model.iterations} iterations, L={model.local_iterations}"
    )
    print(
        f"tiers:      {tiers:7.2f} s for rounds 2..{rounds + 1} "
        f"(start-up and first round {setup:.1f} s, whole run {summary['wall_seconds']:.1f} s)"
    )
    print(
        f"in-process: {loop:7.2f} s for the same rounds (first round {ends[0] - loop_start:.1f} s)"
    )
    print(
        f"per iteration: tiers {tiers / steps * 1000:.1f} ms, "
        f"in-process {loop / steps * 1000:.1f} ms"
    )
    print(f"overhead_ratio={tiers / loop:.3f}")


if __name__ == "__main__":
    main()
