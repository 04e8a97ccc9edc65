"""What ``fedanomaly data inspect`` reports: per-monitor shapes, ranges and anomaly counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from fedanomaly.data.injection import LABELLED, TYPE_CODES, TYPE_NAMES
from fedanomaly.data.pipeline import MonitorData
from fedanomaly.data.preprocessing import SPLITS, window_starts
from fedanomaly.evaluation.ranges import anomaly_ranges


def type_counts(monitor: MonitorData, split: str) -> dict[str, dict[str, int]]:
    """Anomalous steps and events per type in one part of a monitor's VMs (a source's own
    labels count a run of labelled steps as one event).

    Parameters
    ----------
    monitor
        The monitor's data.
    split
        The part: ``train``, ``validation`` or ``test``.

    Returns
    -------
    dict
        Type name -> ``{"steps": ..., "events": ...}``, summed over the VMs; only types with
        at least one step are listed.
    """
    counts: dict[str, dict[str, int]] = {}
    for vm in monitor.vms:
        part = vm.part(split)
        steps = Counter(part.types[part.types != 0].tolist())
        events = Counter(event.type for event in part.events)
        events[LABELLED] = len(anomaly_ranges(part.types == TYPE_CODES[LABELLED]))
        for code, count in steps.items():
            name = TYPE_NAMES[code]
            entry = counts.setdefault(name, {"steps": 0, "events": 0})
            entry["steps"] += count
            entry["events"] += events.get(name, 0)
    return counts


def anomaly_totals(summaries: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """The :func:`type_counts` of every monitor summed.

    Parameters
    ----------
    summaries
        :func:`monitor_summary` of each monitor.

    Returns
    -------
    dict
        Part (``validation``, ``test``) -> type -> ``steps`` and ``events``.
    """
    totals: dict[str, dict[str, dict[str, int]]] = {"validation": {}, "test": {}}
    for summary in summaries:
        for part, counts in summary["anomalies"].items():
            for name, count in counts.items():
                entry = totals[part].setdefault(name, {"steps": 0, "events": 0})
                for key in ("steps", "events"):
                    entry[key] += count[key]
    return totals


def monitor_summary(monitor: MonitorData, window_length: int, stride: int) -> dict[str, Any]:
    """A JSON-ready summary of one monitor's data.

    Parameters
    ----------
    monitor
        The monitor's data, with its values in source units (not
        :meth:`~fedanomaly.data.pipeline.MonitorData.for_training`).
    window_length, stride
        Window length and stride in steps, for the window counts.

    Returns
    -------
    dict
        Monitor, slice, source and VM names; the metric count; steps and windows per part
        (summed over the VMs); the range of all values in source units and of the scaled test
        values; and the :func:`type_counts` of the validation and test parts.
    """
    raw = np.concatenate([vm.part(s).raw for vm in monitor.vms for s in SPLITS])
    scaled_test = np.concatenate([vm.test.scaled for vm in monitor.vms])
    return {
        "monitor": monitor.name,
        "slice": monitor.slice_name,
        "source": monitor.source,
        "vms": [vm.name for vm in monitor.vms],
        "metrics": len(monitor.metrics),
        "steps": {s: sum(len(vm.part(s)) for vm in monitor.vms) for s in SPLITS},
        "windows": {
            s: sum(window_starts(len(vm.part(s)), window_length, stride).size for vm in monitor.vms)
            for s in SPLITS
        },
        "raw_range": [float(raw.min()), float(raw.max())],
        "scaled_test_range": [float(scaled_test.min()), float(scaled_test.max())],
        "anomalies": {s: type_counts(monitor, s) for s in ("validation", "test")},
    }


def metric_summary(monitor: MonitorData) -> list[dict[str, Any]]:
    """Per-metric family, role and train / test ranges of a monitor's first VM."""
    vm = monitor.vms[0]
    return [
        {
            "metric": spec.name,
            "family": spec.family.value,
            "role": spec.role.value,
            "train_min": float(vm.train.raw[:, j].min()),
            "train_max": float(vm.train.raw[:, j].max()),
            "train_mean": float(vm.train.raw[:, j].mean()),
            "test_min": float(vm.test.raw[:, j].min()),
            "test_max": float(vm.test.raw[:, j].max()),
        }
        for j, spec in enumerate(vm.metrics)
    ]
