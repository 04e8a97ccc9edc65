"""The sweeps of Fig. 7 (seed 002) and beyond, each point a real short simulation on one shared
Ray cluster, its metered payload beside the closed form.

- ``batch``: monitor <-> slice payload against the batch size M (Fig. 7b);
- ``aggregation``: slice <-> controller payload against L, the iterations between two FedAvg
  rounds (Fig. 7c);
- ``time``: computation time per tier against the iterations I, four modes (Fig. 7a);
- ``memory``: peak memory per tier against the training-set size, four modes (Fig. 7d);
- ``precision``: the payload of every link, F1 and VUS-PR against the payload precision;
- ``scale``: iterations per second and payload against the number of slices and monitors.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from fedanomaly.bench.closed_form import (
    FLOAT_BYTES,
    fedavg_payload,
    iteration_payload,
    tensors_bytes,
)
from fedanomaly.config.schema import Topology
from fedanomaly.data.pipeline import MonitorData, prepare_monitors
from fedanomaly.errors import InputError
from fedanomaly.files import write_atomically, write_figure
from fedanomaly.metering.meter import LINKS, MONITOR_CONTROLLER, MONITOR_SLICE, SLICE_CONTROLLER
from fedanomaly.models.biwgan import VARIANTS
from fedanomaly.models.sides import CriticSide, GanShape, GeneratorSide
from fedanomaly.runs.cluster import local_ray_cluster
from fedanomaly.runs.summary import TIERS
from fedanomaly.simulation import RunFailedError, check_reachable, check_sizes, simulate

Row = dict[str, Any]
RowMaker = Callable[[Topology, dict[str, Any], list[MonitorData]], Row]
PAYLOAD_COLUMNS = ("up_measured", "up_closed_form", "down_measured", "down_closed_form")


@dataclass(frozen=True)
class Panel:
    """One plot of a sweep's figure: ``columns`` of the rows against the swept value."""

    ylabel: str
    columns: tuple[str, ...]
    scale: float = 1.0


PAYLOAD_PANEL = Panel("payload (kB)", PAYLOAD_COLUMNS, 1e-3)


@contextmanager
def cluster_address(ray_address: str | None) -> Iterator[str]:
    """``ray_address``, or a local cluster started for the sweep."""
    if ray_address is not None:
        yield ray_address
        return
    with local_ray_cluster() as address:
        yield address


def model_size(topology: Topology, metrics: int, side: type = GeneratorSide) -> tuple[int, int]:
    """Value count and tensor count of G and E (or of a critic, with ``CriticSide``).

    Parameters
    ----------
    topology
        The run's topology; its model config sets the shape.
    metrics
        Metrics d of a window.
    side
        ``GeneratorSide`` or ``CriticSide``, built with seed 0 to count its arrays.

    Returns
    -------
    tuple of int
        Values in all the arrays and the number of arrays.
    """
    shape = GanShape.from_config(topology.model, metrics)
    arrays = side(shape, topology.model, 0).arrays()
    return sum(a.size for a in arrays), len(arrays)


def exchange_payload(topology: Topology, metrics: int) -> tuple[int, int]:
    """(up, down) payload bytes of one monitor's exchange in one iteration of the topology's
    split model (:func:`iteration_payload`): up at the feedback's precision, down at the
    generated batches'.

    Parameters
    ----------
    topology
        The run's topology; its model must be a split GAN.
    metrics
        Metrics d of a window.

    Returns
    -------
    tuple of int
        Up and down payload bytes.
    """
    m, payload = topology.model, topology.payload
    sizes = (m.batch_size, m.window_length, metrics, m.latent_size)
    encoder = VARIANTS[m.name].bidirectional
    return (
        iteration_payload(*sizes, payload.feedback, encoder)[0],
        iteration_payload(*sizes, payload.generated, encoder)[1],
    )


def expected_payload(topology: Topology, monitors: list[MonitorData]) -> dict[str, list[int]]:
    """Closed-form (up, down) payload bytes per link of a whole run in the topology's mode.

    Split modes: per monitor its first batch, then per iteration the exchange of
    :func:`iteration_payload`, and G and E sent to it for detection; federated adds the FedAvg
    rounds of :func:`fedavg_payload`. Centralized: every monitor's training data up once (float32
    values), and G, E and the critic down to every monitor. Standalone: nothing.

    Parameters
    ----------
    topology
        The run's topology: mode, model, payload precisions and slices.
    monitors
        The run's monitors (at least one): their metrics and, for ``centralized``, their
        training parts.

    Returns
    -------
    dict
        ``[up, down]`` per link of :data:`LINKS`; ``[0, 0]`` for a link the mode leaves
        unused.
    """
    m, payload, count = topology.model, topology.payload, len(monitors)
    metrics = len(monitors[0].metrics)
    expected = {link: [0, 0] for link in LINKS}
    if topology.mode in ("distributed", "federated"):
        up, down = exchange_payload(topology, metrics)
        first = tensors_bytes(m.batch_size * m.window_length * metrics, 1, payload.feedback)
        deployed = tensors_bytes(*model_size(topology, metrics), payload.models)
        expected[MONITOR_SLICE] = [count * (first + m.iterations * up),
                                   count * (m.iterations * down + deployed)]  # fmt: skip
    if topology.mode == "federated":
        values, tensors = model_size(topology, metrics)
        expected[SLICE_CONTROLLER] = list(fedavg_payload(
            values, len(topology.slices), m.iterations, m.local_iterations, payload.models,
            tensors,
        ))  # fmt: skip
    if topology.mode == "centralized":
        values = sum(vm.train.scaled.size for monitor in monitors for vm in monitor.vms)
        generator, critic = model_size(topology, metrics), model_size(topology, metrics, CriticSide)
        model = tensors_bytes(generator[0] + critic[0], generator[1] + critic[1], payload.models)
        expected[MONITOR_CONTROLLER] = [FLOAT_BYTES * values, count * model]
    return expected


def payload_columns(
    topology: Topology,
    summary: dict[str, Any],
    monitors: list[MonitorData],
    links: tuple[str, ...] = LINKS,
) -> Row:
    """Measured and closed-form payload, up and down, summed over ``links``.

    Parameters
    ----------
    topology
        The run's topology.
    summary
        The run's summary: ``communication`` (measured bytes per link).
    monitors
        The run's monitors.
    links
        The links to sum over.

    Returns
    -------
    dict
        ``up_measured``, ``up_closed_form``, ``down_measured`` and ``down_closed_form``, in
        bytes.
    """
    expected = expected_payload(topology, monitors)
    measured = summary["communication"]
    return {
        "up_measured": sum(measured[link]["up_payload_bytes"] for link in links),
        "up_closed_form": sum(expected[link][0] for link in links),
        "down_measured": sum(measured[link]["down_payload_bytes"] for link in links),
        "down_closed_form": sum(expected[link][1] for link in links),
    }


def batch_row(topology: Topology, summary: dict[str, Any], monitors: list[MonitorData]) -> Row:
    """Monitor <-> slice payload of one run, measured and closed form.

    Parameters
    ----------
    topology
        The point's topology.
    summary
        The run's summary: ``communication`` (measured bytes per link).
    monitors
        The run's monitors.

    Returns
    -------
    dict
        ``batch_size``, one monitor's closed-form ``up_per_iteration`` and
        ``down_per_iteration`` bytes, and the monitor <-> slice :func:`payload_columns`.
    """
    m = topology.model
    up, down = exchange_payload(topology, len(monitors[0].metrics))
    return {
        "batch_size": m.batch_size,
        "up_per_iteration": up,
        "down_per_iteration": down,
        **payload_columns(topology, summary, monitors, (MONITOR_SLICE,)),
    }


def aggregation_row(
    topology: Topology, summary: dict[str, Any], monitors: list[MonitorData]
) -> Row:
    """Slice <-> controller payload of one run, measured and closed form.

    Parameters
    ----------
    topology
        The point's topology.
    summary
        The run's summary: ``communication`` (measured bytes per link).
    monitors
        The run's monitors.

    Returns
    -------
    dict
        ``local_iterations`` and the slice <-> controller :func:`payload_columns`.
    """
    return {
        "local_iterations": topology.model.local_iterations,
        **payload_columns(topology, summary, monitors, (SLICE_CONTROLLER,)),
    }


def precision_row(topology: Topology, summary: dict[str, Any], monitors: list[MonitorData]) -> Row:
    """Every link's payload of one run at one precision, measured and closed form, with the
    detection it reached.

    Parameters
    ----------
    topology
        The point's topology.
    summary
        The run's summary: ``communication`` (measured bytes per link) and the overall
        ``detection`` metrics.
    monitors
        The run's monitors.

    Returns
    -------
    dict
        ``precision`` (the models'), every link's :func:`payload_columns`, and the overall
        ``f1``, ``vus_pr`` and ``auc_pr``.
    """
    overall = summary["detection"]["overall"]
    return {
        "precision": topology.payload.models,
        **payload_columns(topology, summary, monitors),
        "f1": overall["f1"],
        "vus_pr": overall["vus_pr"],
        "auc_pr": overall["auc_pr"],
    }


def time_row(topology: Topology, summary: dict[str, Any], monitors: list[MonitorData]) -> Row:
    """Computation time per tier (CPU seconds) of one run, with its payload.

    Parameters
    ----------
    topology
        The point's topology.
    summary
        The run's summary: ``compute_seconds`` per tier, ``training_seconds``,
        ``simulated_seconds`` and ``communication`` (measured bytes per link).
    monitors
        The run's monitors.

    Returns
    -------
    dict
        ``mode``, ``iterations``, CPU seconds per tier and in all, the training and
        simulated seconds, and every link's :func:`payload_columns`.
    """
    per_tier = {f"{tier}_cpu_seconds": summary["compute_seconds"][tier] for tier in TIERS}
    return {
        "mode": topology.mode,
        "iterations": topology.model.iterations,
        **per_tier,
        "cpu_seconds": round(sum(per_tier.values()), 4),
        "training_seconds": summary["training_seconds"],
        "simulated_seconds": summary["simulated_seconds"],
        **payload_columns(topology, summary, monitors),
    }


def memory_row(topology: Topology, summary: dict[str, Any], monitors: list[MonitorData]) -> Row:
    """Peak memory per tier of one run against its training-set size, with its payload.

    Parameters
    ----------
    topology
        The point's topology.
    summary
        The run's summary: ``peak_memory_bytes`` per tier and ``communication`` (measured
        bytes per link).
    monitors
        The run's monitors; their training windows are counted.

    Returns
    -------
    dict
        ``mode``, the mean number of training windows per monitor (truncated), peak
        memory per tier (MB) and every link's :func:`payload_columns`.
    """
    m = topology.model
    windows = [len(d.windows("train", m.window_length, m.window_stride)) for d in monitors]
    memory = summary["peak_memory_bytes"]
    return {
        "mode": topology.mode,
        "training_windows": int(np.mean(windows)),
        **{f"{tier}_memory_mb": round(memory[tier] / 1e6, 4) for tier in TIERS},
        **payload_columns(topology, summary, monitors),
    }


def scale_row(topology: Topology, summary: dict[str, Any], monitors: list[MonitorData]) -> Row:
    """Speed and payload of one run against its number of slices and monitors.

    Parameters
    ----------
    topology
        The point's topology.
    summary
        The run's summary: ``training_seconds`` (not 0) and ``communication`` (measured bytes
        per link).
    monitors
        The run's monitors.

    Returns
    -------
    dict
        ``size``, ``slices``, ``monitors``, iterations per second, milliseconds per
        iteration and monitor, and every link's :func:`payload_columns`.
    """
    seconds = summary["training_seconds"]
    return {
        "size": f"{len(topology.slices)}x{len(monitors)}",
        "slices": len(topology.slices),
        "monitors": len(monitors),
        "iterations_per_second": round(topology.model.iterations / seconds, 4),
        "ms_per_iteration_and_monitor": round(
            1e3 * seconds / topology.model.iterations / len(monitors), 4
        ),
        **payload_columns(topology, summary, monitors),
    }


def data_key(topology: Topology) -> str:
    """What a point's prepared data depend on: seed, data section, slices and window length."""
    return json.dumps([
        topology.seed, topology.model.window_length, topology.data.model_dump(mode="json"),
        [slice_.model_dump(mode="json") for slice_ in topology.slices],
    ])  # fmt: skip


def prepared(topology: Topology) -> list[MonitorData]:
    """A point's monitors as a simulation holds them."""
    return [monitor.for_training() for monitor in prepare_monitors(topology)]


def check_points(topologies: list[Topology]) -> list[MonitorData]:
    """Prepare and check every point's data before the first point runs; points with the same
    data share one preparation, and only the first point's is kept, for its run.

    Parameters
    ----------
    topologies
        The sweep's points.

    Returns
    -------
    list of MonitorData
        The first point's monitors.

    Raises
    ------
    InputError
        For any point's bad data or a batch larger than a monitor's training windows, naming
        the point.
    """
    checked: dict[str, list[int]] = {}
    for index, topology in enumerate(topologies, start=1):
        checked.setdefault(data_key(topology), []).append(index)
    first: list[MonitorData] = []
    for indices in checked.values():
        try:
            monitors = prepared(topologies[indices[0] - 1])
        except InputError as error:
            raise InputError(f"point {indices[0]} of {len(topologies)}: {error}") from None
        for index in indices:
            try:
                check_sizes(topologies[index - 1], monitors)
            except InputError as error:
                raise InputError(f"point {index} of {len(topologies)}: {error}") from None
        if indices[0] == 1:
            first = monitors
    return first


def sweep(
    topologies: list[Topology],
    row: RowMaker,
    ray_address: str | None,
    on_point: Callable[[Row], None],
) -> list[Row]:
    """Check every point's data, then simulate each topology in a scratch run directory and
    measure it.

    Parameters
    ----------
    topologies
        The sweep's points.
    row
        Makes a point's row from its topology, summary and monitors.
    ray_address
        A Ray cluster to join; ``None`` starts a local one for the sweep.
    on_point
        Called with each row as soon as its point is done.

    Returns
    -------
    list of dict
        One row per point, in order.
    """
    monitors = check_points(topologies)
    check_reachable(ray_address)
    rows = []
    key = data_key(topologies[0])
    with tempfile.TemporaryDirectory() as scratch, cluster_address(ray_address) as address:
        for index, topology in enumerate(topologies):
            if data_key(topology) != key:  # consecutive points share their data
                key, monitors = data_key(topology), prepared(topology)
            try:
                summary = simulate(
                    topology, Path(scratch) / f"point-{index}", address, monitors=monitors
                )
            except RunFailedError as error:  # a diverged point: nothing is written
                raise InputError(
                    f"sweep point {index + 1} of {len(topologies)} ({topology.mode}, M = "
                    f"{topology.model.batch_size}, I = {topology.model.iterations}) failed: {error}"
                ) from None
            rows.append(row(topology, summary, monitors))
            on_point(rows[-1])
    return rows


def result_paths(out: Path) -> tuple[Path, Path]:
    """``<out>.csv`` and ``<out>.png``: the suffixes are added to the whole name, so a name
    with a dot of its own (``run-v1.5``) keeps it; a ``.csv`` or ``.png`` already given is
    not doubled."""
    stem = out.name.removesuffix(out.suffix) if out.suffix in (".csv", ".png") else out.name
    return out.parent / f"{stem}.csv", out.parent / f"{stem}.png"


def write_results(
    rows: list[Row], x: str, out: Path, title: str, panels: list[Panel]
) -> tuple[Path, Path]:
    """``<out>.csv`` (every column) and ``<out>.png`` (one plot per panel against ``x``, a
    colour per mode where the rows carry one; closed forms drawn as lines, solid up and dashed
    down, measurements as dots up and squares down).

    Parameters
    ----------
    rows
        The sweep's rows (at least one), all with the first row's columns.
    x
        The column on the horizontal axis: the swept value.
    out
        Where to write, with or without the suffix (see :func:`result_paths`).
    title
        The figure's title.
    panels
        The plots (at least one), two to a row of the figure.

    Returns
    -------
    tuple of pathlib.Path
        The CSV and PNG paths.
    """
    table, picture = result_paths(out)

    def write_table(path: Path) -> None:
        with path.open("w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    write_atomically(table, write_table)
    groups: dict[str, list[Row]] = {}
    for entry in rows:
        groups.setdefault(entry.get("mode", ""), []).append(entry)
    columns = min(len(panels), 2)
    figure = Figure(figsize=(6 * columns, 4 * math.ceil(len(panels) / columns)))
    axes = figure.subplots(math.ceil(len(panels) / columns), columns, squeeze=False).ravel()
    for axis, panel in zip(axes, panels, strict=False):
        for index, (group, members) in enumerate(groups.items()):
            for number, column in enumerate(panel.columns):
                label = " ".join(filter(None, [group, column.replace("_", " ")]))
                values = [r[column] * panel.scale for r in members]
                # one colour per mode where modes are swept, else one per column
                colour = f"C{index if len(groups) > 1 else number}"
                down = column.startswith("down")
                if column.endswith("_closed_form"):
                    style = {"linestyle": "--" if down else "-"}
                elif column.endswith("_measured"):
                    style = {"marker": "s" if down else "o", "linestyle": "none"}
                else:
                    style = {"marker": "o"}
                axis.plot([r[x] for r in members], values, color=colour, label=label, **style)
        axis.set(xlabel=x.replace("_", " "), ylabel=panel.ylabel)
        axis.legend(fontsize="x-small")
    for axis in axes[len(panels) :]:
        axis.set_visible(False)
    figure.suptitle(title)
    figure.tight_layout()
    write_figure(figure, picture)
    return table, picture
