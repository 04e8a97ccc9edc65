"""The simulated clock of training, from ``metrics.jsonl`` records and the topology's links."""

from __future__ import annotations

import pytest

from fedanomaly.config import resolve_topology
from fedanomaly.runs.timeline import simulated_time

LINKS = {
    "monitor_slice": {"bandwidth_mbps": 8.0, "latency_ms": 10.0},
    "monitor_controller": {"bandwidth_mbps": 80.0, "latency_ms": 20.0, "loss": 0.5},
}


def seconds(total_bytes: int, messages: int, mbps: float, latency_ms: float, loss: float) -> float:
    return (messages * latency_ms / 1000 + 8 * total_bytes / (mbps * 1e6)) / (1 - loss)


def iteration(group: str, k: int, up: int, down: int, compute: float) -> dict[str, object]:
    return {"iteration": k, "group": group, "compute_seconds": compute, "up_bytes": up,
            "down_bytes": down, "up_messages": 1, "down_messages": 1}  # fmt: skip


def test_centralized_waits_for_the_slowest_upload_then_trains():
    topology = resolve_topology(
        slices=1, monitors=2,
        settings={"mode": "centralized", "model.iterations": 2, "links": LINKS},
    )  # fmt: skip
    uploads = [  # monitors of one VM and of two: each on its own link, in parallel
        {"upload": "vm-1-1", "link": "monitor_controller", "up_bytes": 1000, "down_bytes": 0,
         "up_messages": 1, "down_messages": 0},
        {"upload": "vm-1-2", "link": "monitor_controller", "up_bytes": 3000, "down_bytes": 0,
         "up_messages": 2, "down_messages": 0},
    ]  # fmt: skip
    steps = [iteration("controller", k, 500, 200, 0.25) for k in range(2)]
    clock = simulated_time([*uploads, *steps], topology)
    per_step = seconds(500, 1, 8.0, 10.0, 0.0) + seconds(200, 1, 8.0, 10.0, 0.0)
    transfer = seconds(3000, 2, 80.0, 20.0, 0.5) + 2 * per_step
    assert clock["transfer_seconds"] == pytest.approx(transfer)
    assert clock["compute_seconds"] == pytest.approx(0.5)
    assert clock["simulated_seconds"] == pytest.approx(transfer + 0.5)
    # without the uploads, the same steps take no upload time
    assert simulated_time(steps, topology)["transfer_seconds"] == pytest.approx(2 * per_step)
