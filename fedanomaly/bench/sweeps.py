"""The communication sweeps of Fig. 7 (seed 002), each point a real short federated simulation
on one shared Ray cluster, its metered payload beside the closed form.

- ``batch``: monitor <-> slice payload against the batch size M (Fig. 7b);
- ``aggregation``: slice <-> controller payload against L, the iterations between two FedAvg
  rounds (Fig. 7c);
- ``precision``: the payload of both links, F1 and VUS-PR against the payload precision.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from fedanomaly.bench.closed_form import fedavg_payload, iteration_payload, tensors_bytes
from fedanomaly.config.schema import Topology
from fedanomaly.data.plotting import write_figure
from fedanomaly.models.sides import GanShape, GeneratorSide
from fedanomaly.runs.cluster import local_ray_cluster
from fedanomaly.simulation import prepare_run, simulate

Row = dict[str, Any]


@contextmanager
def cluster_address(ray_address: str | None) -> Iterator[str]:
    """``ray_address``, or a local cluster started for the sweep."""
    if ray_address is not None:
        yield ray_address
        return
    with local_ray_cluster() as address:
        yield address


def model_size(topology: Topology, metrics: int) -> tuple[int, int]:
    """Value count and tensor count of G and E."""
    shape = GanShape.from_config(topology.model, metrics)
    arrays = GeneratorSide(shape, topology.model, 0).arrays()
    return sum(a.size for a in arrays), len(arrays)


def batch_row(topology: Topology, summary: dict[str, Any], metrics: int) -> Row:
    """Monitor <-> slice payload of one run, measured and closed form."""
    m, monitors = topology.model, summary["topology"]["monitors"]
    generated, feedback = topology.payload.generated, topology.payload.feedback
    up = iteration_payload(m.batch_size, m.window_length, metrics, m.latent_size, feedback)[0]
    down = iteration_payload(m.batch_size, m.window_length, metrics, m.latent_size, generated)[1]
    # each monitor's first batch, and G and E sent to it for detection
    first = tensors_bytes(m.batch_size * m.window_length * metrics, 1, feedback)
    deployed = tensors_bytes(*model_size(topology, metrics), topology.payload.models)
    link = summary["communication"]["monitor_slice"]
    return {
        "batch_size": m.batch_size,
        "up_per_iteration": up,
        "down_per_iteration": down,
        "up_measured": link["up_payload_bytes"],
        "up_closed_form": monitors * (first + m.iterations * up),
        "down_measured": link["down_payload_bytes"],
        "down_closed_form": monitors * (m.iterations * down + deployed),
    }


def aggregation_row(topology: Topology, summary: dict[str, Any], metrics: int) -> Row:
    """Slice <-> controller payload of one run, measured and closed form."""
    m = topology.model
    values, tensors = model_size(topology, metrics)
    up, down = fedavg_payload(
        values, len(topology.slices), m.iterations, m.local_iterations,
        topology.payload.models, tensors,
    )  # fmt: skip
    link = summary["communication"]["slice_controller"]
    return {
        "local_iterations": m.local_iterations,
        "up_measured": link["up_payload_bytes"],
        "up_closed_form": up,
        "down_measured": link["down_payload_bytes"],
        "down_closed_form": down,
    }


def precision_row(topology: Topology, summary: dict[str, Any], metrics: int) -> Row:
    """Both links' payload of one run at one precision, measured and closed form, with the
    detection it reached."""
    link = batch_row(topology, summary, metrics)
    fedavg = aggregation_row(topology, summary, metrics)
    overall = summary["detection"]["overall"]
    return {
        "precision": topology.payload.models,
        **{k: link[k] + fedavg[k] for k in link if k.endswith(("_measured", "_closed_form"))},
        "f1": overall["f1"],
        "vus_pr": overall["vus_pr"],
        "auc_pr": overall["auc_pr"],
    }


def sweep(
    topologies: list[Topology],
    row: Callable[[Topology, dict[str, Any], int], Row],
    ray_address: str | None,
    on_point: Callable[[Row], None],
) -> list[Row]:
    """Simulate each topology in a scratch run directory and measure it."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch, cluster_address(ray_address) as address:
        for index, topology in enumerate(topologies):
            out = Path(scratch) / f"point-{index}"
            monitors = prepare_run(topology, out, address)
            summary = simulate(topology, out, address, monitors=monitors)
            rows.append(row(topology, summary, len(monitors[0].metrics)))
            on_point(rows[-1])
    return rows


def write_results(rows: list[Row], x: str, out: Path, title: str) -> tuple[Path, Path]:
    """``<out>.csv`` and ``<out>.png``: measured and closed-form payload against ``x``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    table = out.with_suffix(".csv")
    with table.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    figure = Figure(figsize=(7, 4))
    axis = figure.subplots()
    xs = [r[x] for r in rows]
    for direction in ("up", "down"):
        axis.plot(
            xs, [r[f"{direction}_measured"] / 1e3 for r in rows], "o", label=f"{direction} measured"
        )
        axis.plot(
            xs,
            [r[f"{direction}_closed_form"] / 1e3 for r in rows],
            "-",
            label=f"{direction} closed form",
        )
    axis.set(xlabel=x, ylabel="payload (kB)", title=title)
    axis.legend()
    figure.tight_layout()
    picture = out.with_suffix(".png")
    write_figure(figure, picture)
    return table, picture
