"""``summary.json``: what each tier cost and how well the monitors detect."""

from __future__ import annotations

from typing import Any

import numpy as np

from fedanomaly.config.schema import Topology
from fedanomaly.data.injection import TYPE_NAMES, anomaly_labels
from fedanomaly.data.pipeline import MonitorData
from fedanomaly.evaluation.pointwise import binary_metrics, ranking_metrics
from fedanomaly.evaluation.report import MonitorReport
from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import DIRECTIONS, LINKS, Meter
from fedanomaly.runs.timeline import link_transfer_seconds, simulated_time

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
    detections: dict[str, MonitorReport],
    accounts: dict[str, dict[str, Any]],
    controller_meter: Meter,
    controller_clock: Stopwatch,
    controller_memory: int,
    devices: dict[str, str],
    rounds: int,
    wall_seconds: float,
    training_seconds: float,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """The run's summary, as ``summary.json`` holds it (documented in the README).

    Parameters
    ----------
    topology
        The resolved topology the run trained on.
    monitors
        Every monitor's prepared data, in the order the summary lists their figures.
    detections
        Each monitor's evaluation, by monitor name.
    accounts
        Per tier (``monitor``, ``slice_manager``): its ``meter``, ``clock`` and ``memory``.
    controller_meter, controller_clock, controller_memory
        The controller's own traffic, time and peak memory in bytes.
    devices
        The device each generator side trained on: by slice, by monitor in standalone mode,
        ``controller`` in centralized mode.
    rounds
        FedAvg rounds done.
    wall_seconds, training_seconds
        The whole run's and the training's wall-clock time.
    records
        The lines of ``metrics.jsonl``.

    Returns
    -------
    dict
        The summary, ready for JSON (undefined figures ``None``).
    """
    meter = Meter()
    meter.merge(controller_meter)
    for entry in accounts.values():
        meter.merge(entry["meter"])
    clocks = {tier: accounts.get(tier, {}).get("clock", Stopwatch()) for tier in TIERS}
    clocks["controller"].add(controller_clock)
    memory = {tier: int(accounts.get(tier, {}).get("memory", 0)) for tier in TIERS}
    memory["controller"] = max(memory["controller"], controller_memory)

    order = [m.name for m in monitors]
    traffic = communication(meter)
    for link, seconds in link_transfer_seconds(traffic, topology).items():
        traffic[link]["transfer_seconds"] = round(seconds, 6)
    clock = simulated_time(records, topology)
    return {
        "mode": topology.mode,
        "model": topology.model.name,
        "seed": topology.seed,
        "topology": {
            "name": topology.name,
            "slices": len(topology.slices),
            "monitors": len(topology.monitors),
        },
        "iterations": topology.model.training_iterations,
        "fedavg_rounds": rounds,
        "devices": devices,
        "communication": traffic,
        "compute_seconds": {tier: round(clocks[tier].cpu_seconds, 4) for tier in TIERS},
        "compute_wall_seconds": {tier: round(clocks[tier].wall_seconds, 4) for tier in TIERS},
        "peak_memory_bytes": memory,
        "wall_seconds": round(wall_seconds, 3),
        "training_seconds": round(training_seconds, 3),
        "simulated_seconds": round(clock["simulated_seconds"], 6),
        "simulated": {
            "compute_seconds": round(clock["compute_seconds"], 6),
            "transfer_seconds": round(clock["transfer_seconds"], 6),
        },
        "detection": detection_summary(topology, [detections[n] for n in order]),
    }


def mean_over(rows: list[dict[str, float]]) -> dict[str, float | None]:
    """Per-key mean over monitors; undefined entries (NaN: no labelled step) are left out, and
    a key undefined everywhere is ``None`` (``null`` in JSON)."""
    means: dict[str, float | None] = {}
    for key in rows[0]:
        values = np.array([row[key] for row in rows], dtype=np.float64)
        means[key] = float(np.nanmean(values)) if np.isfinite(values).any() else None
    return means


def by_type(reports: list[MonitorReport]) -> dict[str, dict[str, float]]:
    """Per anomaly type, that type's steps against all normal steps: precision, recall, F1 and
    accuracy pooled over monitors (each monitor's predictions at its own threshold), AUC-PR the
    mean over the monitors that hold the type (each ranks its own scores: the monitors' scales
    differ, so their scores are not pooled)."""
    types = np.concatenate([r.types for r in reports])
    preds = np.concatenate([r.preds for r in reports])
    labels = anomaly_labels(types)
    result = {}
    for code in np.unique(types[types != 0]):
        chosen = (types == 0) | (types == code)
        result[TYPE_NAMES[code]] = {
            **binary_metrics(labels[chosen], preds[chosen]),
            "auc_pr": mean_over(
                [type_ranking(r, code) for r in reports if (r.types == code).any()]
            )["auc_pr"],
        }
    return result


def type_ranking(report: MonitorReport, code: int) -> dict[str, float]:
    """AUC-ROC and AUC-PR of one monitor's scores on one anomaly type's steps against its normal
    steps.

    Parameters
    ----------
    report
        The monitor's evaluation: its test steps' scores and type codes.
    code
        The anomaly type's code (its index in ``TYPE_NAMES``).

    Returns
    -------
    dict
        ``auc_roc`` and ``auc_pr``; NaN where the monitor lacks normal steps or steps of the
        type, or a score is not finite.
    """
    kept = (report.types == 0) | (report.types == code)
    return ranking_metrics(anomaly_labels(report.types[kept]), report.scores[kept])


def beyond_train_range(reports: list[MonitorReport]) -> dict[str, int | float | None]:
    """Normal test steps and false alarms on steps beyond the training range, over monitors.

    Parameters
    ----------
    reports
        Every monitor's evaluation, with its predictions at the deployable threshold and its
        test steps' ``beyond_range`` flags.

    Returns
    -------
    dict
        ``normal_steps``, ``normal_steps_beyond``, ``false_alarms`` and ``false_alarms_beyond``
        (counts pooled over monitors), and ``normal_share`` and ``false_alarm_share`` (the
        beyond-range part of each; ``None`` where the whole is 0).
    """
    normal = np.concatenate([r.types == 0 for r in reports])
    alarm = np.concatenate([r.preds == 1 for r in reports]) & normal
    beyond = np.concatenate([r.beyond_range for r in reports])
    counts = {
        "normal_steps": int(normal.sum()),
        "normal_steps_beyond": int((normal & beyond).sum()),
        "false_alarms": int(alarm.sum()),
        "false_alarms_beyond": int((alarm & beyond).sum()),
    }
    return {
        **counts,
        "normal_share": counts["normal_steps_beyond"] / counts["normal_steps"]
        if counts["normal_steps"]
        else None,
        "false_alarm_share": counts["false_alarms_beyond"] / counts["false_alarms"]
        if counts["false_alarms"]
        else None,
    }


def beats(model: float | None, control: float | None) -> bool | None:
    """Whether the model's VUS-PR is above the control's (``None`` where undefined).

    Parameters
    ----------
    model, control
        The mean VUS-PR over monitors of the model and of a control detector; ``None`` where
        undefined.

    Returns
    -------
    bool or None
        Whether ``model`` is strictly above ``control``; ``None`` where either is ``None``.
    """
    if model is None or control is None:
        return None
    return model > control


def detection_summary(topology: Topology, reports: list[MonitorReport]) -> dict[str, Any]:
    """The ``detection`` section of the summary.

    Parameters
    ----------
    topology
        The resolved topology (its threshold method and control rows).
    reports
        Every monitor's evaluation.

    Returns
    -------
    dict
        Means over monitors overall, per threshold and per control row, figures per injected
        type, the false alarms beyond the training range, and each monitor's own figures.
    """
    overall = mean_over([r.metrics for r in reports])
    controls = {
        name: mean_over([r.controls[name] for r in reports])
        for name in topology.evaluation.controls
    }
    thresholds = {
        method: mean_over([{k: v for k, v in r.thresholds[method].items() if k != "threshold"}
                           for r in reports])
        for method in reports[0].thresholds
    }  # fmt: skip
    return {
        "threshold_method": topology.evaluation.threshold,
        "threshold": figure(float(np.mean([r.threshold for r in reports]))),
        "vus_window": float(np.mean([r.vus_window for r in reports])),
        "overall": overall,
        "by_type": by_type(reports),
        "by_threshold": thresholds,
        "beyond_train_range": beyond_train_range(reports),
        "controls": controls,
        "beats_controls": {
            name: beats(overall["vus_pr"], row["vus_pr"]) for name, row in controls.items()
        },
        "per_monitor": {
            r.name: {
                "threshold": figure(r.threshold),
                "vus_window": r.vus_window,
                **defined(r.metrics),
                "by_threshold": {method: defined(row) for method, row in r.thresholds.items()},
                "controls": {name: defined(r.controls[name]) for name in controls},
            }
            for r in reports
        },
    }


def figure(value: float) -> float | None:
    """A figure for JSON: ``None`` in place of NaN (undefined here) and of an infinite value
    (the oracle threshold of a test part without anomalies), neither of which strict JSON can
    hold."""
    return value if np.isfinite(value) else None


def defined(row: dict[str, float]) -> dict[str, float | None]:
    """A row of figures for JSON, each as :func:`figure` writes it."""
    return {k: figure(v) for k, v in row.items()}
