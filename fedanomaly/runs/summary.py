"""``summary.json``: what each tier cost and how well the monitors detect."""

from __future__ import annotations

from typing import Any

import numpy as np

from fedanomaly.config.schema import Topology
from fedanomaly.data.pipeline import MonitorData
from fedanomaly.detection.detector import MonitorDetection
from fedanomaly.detection.metrics import detection_metrics
from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import DIRECTIONS, LINKS, Meter

TIERS = ("monitor", "slice_manager", "controller")


def communication(meter: Meter) -> dict[str, dict[str, int]]:
    """Bytes (payload and framing apart) and messages per link and direction."""
    report = {}
    for link in LINKS:
        entry: dict[str, int] = {"messages": 0}
        for direction in DIRECTIONS:
            traffic = meter.traffic(link, direction)
            entry[f"{direction}_bytes"] = traffic.total_bytes
            entry[f"{direction}_payload_bytes"] = traffic.payload_bytes
            entry[f"{direction}_framing_bytes"] = traffic.framing_bytes
            entry[f"{direction}_messages"] = traffic.messages
            entry["messages"] += traffic.messages
        report[link] = entry
    return report


def build_summary(
    topology: Topology,
    monitors: list[MonitorData],
    detections: dict[str, MonitorDetection],
    accounts: dict[str, dict[str, Any]],
    controller_meter: Meter,
    controller_clock: Stopwatch,
    controller_memory: int,
    devices: dict[str, str],
    rounds: int,
    wall_seconds: float,
    training_seconds: float,
) -> dict[str, Any]:
    """The run's summary (documented in the README)."""
    meter = Meter()
    meter.merge(controller_meter)
    for entry in accounts.values():
        meter.merge(entry["meter"])
    clocks = {tier: accounts.get(tier, {}).get("clock", Stopwatch()) for tier in TIERS}
    clocks["controller"].add(controller_clock)
    memory = {tier: int(accounts.get(tier, {}).get("memory", 0)) for tier in TIERS}
    memory["controller"] = max(memory["controller"], controller_memory)

    order = [m.name for m in monitors]
    scores = np.concatenate([detections[n].scores for n in order])
    preds = np.concatenate([detections[n].preds for n in order])
    types = np.concatenate([detections[n].types for n in order])
    pooled = detection_metrics(scores, preds, types)
    per_monitor = {
        n: {
            "threshold": detections[n].threshold,
            **detection_metrics(detections[n].scores, detections[n].preds, detections[n].types)[
                "overall"
            ],
        }
        for n in order
    }
    return {
        "mode": topology.mode,
        "model": topology.model.name,
        "seed": topology.seed,
        "topology": {
            "name": topology.name,
            "slices": len(topology.slices),
            "monitors": len(topology.monitors),
        },
        "iterations": topology.model.iterations,
        "fedavg_rounds": rounds,
        "devices": devices,
        "communication": communication(meter),
        "compute_seconds": {tier: round(clocks[tier].cpu_seconds, 4) for tier in TIERS},
        "compute_wall_seconds": {tier: round(clocks[tier].wall_seconds, 4) for tier in TIERS},
        "peak_memory_bytes": memory,
        "wall_seconds": round(wall_seconds, 3),
        "training_seconds": round(training_seconds, 3),
        "detection": {
            "threshold": float(np.mean([detections[n].threshold for n in order])),
            "overall": pooled["overall"],
            "by_type": pooled["by_type"],
            "per_monitor": per_monitor,
        },
    }
