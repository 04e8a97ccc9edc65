"""Slice managers on the CPU and on a GPU, side by side in one process tree.

Run ``python simulations/bench_device.py [--batch-sizes 32,256] [--iterations I]`` on a machine
with a CUDA GPU. For each batch size M it runs the same federated training of the paper's
topology (3 slices, 9 monitors, built-in data, defaults otherwise) twice, each a real run with
its own local Ray session: once with ``device: cpu`` and once with ``device: cuda``, so that only
where the slice managers' G and E live differs (the monitors' critics stay on the CPU). The
first batch size is then run once more on the GPU, to see whether a GPU run repeats its own
numbers.

Per run it prints: the devices the slice managers reported, the slice managers' compute wall
seconds per iteration (summed over slices, from ``summary.json``), the iterations per second
over the FedAvg rounds after the first (start-up left out), the whole run's wall seconds, and
F1 at eq. 33 and VUS-PR (a GPU's arithmetic differs in the last bits, so detection may differ
a little from the CPU run). The last line is
``batch=<M> slice_manager_speedup=<cpu / gpu> run_speedup=<cpu / gpu> gpu_repeats=<bool>``
for the largest batch size.
"""

from __future__ import annotations

import argparse
import sys

import torch
from bench_scale import timed_run

from fedanomaly.config import resolve_topology


def measure(device: str, batch_size: int, iterations: int) -> dict[str, object]:
    """One federated run with the slice managers on ``device``, measured."""
    topology = resolve_topology(
        slices=3,
        monitors=9,
        settings={
            "name": f"device-{device}-{batch_size}",
            "device": device,
            "model.batch_size": batch_size,
            "model.iterations": iterations,
        },
    )
    summary, rate = timed_run(topology)
    overall = summary["detection"]["overall"]
    return {
        "devices": ",".join(sorted(set(summary["devices"].values()))),
        "slice_ms": 1000 * summary["compute_wall_seconds"]["slice_manager"] / iterations,
        "iters_per_s": rate,
        "wall": summary["wall_seconds"],
        "f1": overall["f1"],
        "vus_pr": overall["vus_pr"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="32,256", help="windows per batch M, each run")
    parser.add_argument("--iterations", type=int, default=200, help="iterations I per run")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("error: no CUDA GPU is visible to torch here; run this on a machine with one")
        sys.exit(2)
    print(f"GPU: {torch.cuda.get_device_name(0)}; 3 slices, 9 monitors, I = {args.iterations}")
    print(
        f"{'M':>4} {'run':>8} {'devices':>8} {'slice ms/iter':>13} {'iters/s':>8} "
        f"{'wall s':>7} {'F1':>6} {'VUS-PR':>7}"
    )
    rows: dict[tuple[int, str], dict[str, object]] = {}
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    runs = [(size, device) for size in sizes for device in ("cpu", "cuda")]
    for size, run in [*runs, (sizes[0], "cuda again")]:
        row = measure(run.split()[0], size, args.iterations)
        rows[size, run] = row
        print(
            f"{size:>4} {run:>8} {row['devices']:>8} {row['slice_ms']:>13.2f} "
            f"{row['iters_per_s']:>8.2f} {row['wall']:>7.1f} {row['f1']:>6.3f} "
            f"{row['vus_pr']:>7.3f}",
            flush=True,
        )
    first, again = rows[sizes[0], "cuda"], rows[sizes[0], "cuda again"]
    repeats = (first["f1"], first["vus_pr"]) == (again["f1"], again["vus_pr"])
    last = sizes[-1]
    cpu, gpu = rows[last, "cpu"], rows[last, "cuda"]
    print(
        f"batch={last} slice_manager_speedup={cpu['slice_ms'] / gpu['slice_ms']:.2f} "
        f"run_speedup={gpu['iters_per_s'] / cpu['iters_per_s']:.2f} gpu_repeats={repeats}"
    )


if __name__ == "__main__":
    main()
