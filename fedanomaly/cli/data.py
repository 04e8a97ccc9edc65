"""``fedanomaly data``: look at the data each VM monitor holds, before any training."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from fedanomaly.cli.common import (
    Inject,
    Intensity,
    Json,
    Monitors,
    Rate,
    Seed,
    Slices,
    console,
    injection_options,
    reports_input_errors,
    show,
)
from fedanomaly.config import parse_source
from fedanomaly.config.overrides import option_settings, resolve_topology
from fedanomaly.config.schema import Topology
from fedanomaly.data.injection import ANOMALY_KINDS
from fedanomaly.data.inspection import anomaly_totals, metric_summary, monitor_summary
from fedanomaly.data.pipeline import MonitorData, prepare_monitors
from fedanomaly.data.plotting import plot_vm
from fedanomaly.errors import InputError
from fedanomaly.files import check_figure_name

data_app = typer.Typer(help="Look at the data each VM monitor holds.", no_args_is_help=True)

TopologyFile = Annotated[
    Path | None,
    typer.Option("--topology", "-t", help="Topology YAML (default: the source's own layout)."),
]
Length = Annotated[int | None, typer.Option(help="Steps per VM of synthetic-vnf data.")]
Partition = Annotated[
    str | None,
    typer.Option(help="entity: a VM per monitor; split: one series cut into a share per monitor."),
]
SourceArg = Annotated[
    str | None,
    typer.Argument(
        help="TYPE or TYPE:PATH (synthetic-vnf, smd:DIR, bitbrains:DIR, csv:FILE, pickle:DIR), "
        "options as ?key=value&...; default: the topology's source, else synthetic-vnf",
        show_default=False,
    ),
]


def data_topology(
    source: str | None,
    topology: Path | None,
    slices: int | None,
    monitors: int | None,
    seed: int | None,
    length: int | None,
    inject: str | None,
    rate: float | None,
    intensity: float | None,
    partition: str | None,
) -> Topology:
    """The topology a data command works on, with its command-line settings."""
    settings, flags = option_settings(
        {
            "seed": ("--seed", seed),
            "data.source.length": ("--length", length),
            **injection_options(inject, rate, intensity),
            "data.partition": ("--partition", partition),
        }
    )
    parsed = parse_source(source) if source is not None else None
    return resolve_topology(topology, slices, monitors, parsed, settings, flags)


@data_app.command("types")
def data_types() -> None:
    """List the anomaly types that can be injected and what each changes."""
    table = Table("type", "families", "moves (metric role: direction)", "shape over the event")
    for kind in ANOMALY_KINDS.values():
        moves = ", ".join(
            f"{role.value} {'up' if sign > 0 else 'down'}" for role, sign in kind.signs.items()
        )
        summary = (inspect.getdoc(kind.profile) or "").split("\n\n")[0]  # not its sections
        shape = " ".join(summary.split()).rstrip(".")
        if kind.magnitude != 1.0:
            shape += f"; {kind.magnitude:g} x intensity"
        if kind.short:
            shape += "; 1-3 steps"
        table.add_row(kind.name, ", ".join(f.value for f in kind.families), moves, shape)
    show(table)


@data_app.command("inspect")
@reports_input_errors
def data_inspect(
    source: SourceArg = None,
    topology: TopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    seed: Seed = None,
    length: Length = None,
    inject: Inject = None,
    rate: Rate = None,
    intensity: Intensity = None,
    partition: Partition = None,
    monitor: Annotated[str | None, typer.Option(help="Also list this monitor's metrics.")] = None,
    as_json: Json = False,
) -> None:
    """Per monitor: shape, value ranges and anomaly counts by type."""
    chosen = data_topology(
        source, topology, slices, monitors, seed, length, inject, rate, intensity, partition
    )
    if monitor is not None:
        require_monitor(chosen, monitor)
    prepared = prepare_monitors(chosen)
    model = chosen.model
    summaries = [monitor_summary(m, model.window_length, model.window_stride) for m in prepared]
    metrics = metric_summary(next(m for m in prepared if m.name == monitor)) if monitor else None
    if as_json:
        totals = anomaly_totals(summaries)
        print(
            json.dumps({"monitors": summaries, "anomalies": totals, "metrics": metrics}, indent=2)
        )
        return
    show(summary_table(summaries, model.window_length, model.window_stride))
    show(anomaly_table(summaries))
    if metrics:
        show(metric_table(monitor or "", metrics))


def require_monitor(topology: Topology, name: str) -> None:
    """Raise an error listing the monitors if ``name`` is not one of them."""
    names = [m.name for _, m in topology.monitors]
    if name not in names:
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise InputError(f"no monitor '{name}' in the topology (monitors: {shown})")


def summary_table(summaries: list[dict[str, Any]], length: int, stride: int) -> Table:
    """Per-monitor shape and range table."""
    table = Table(
        "monitor", "slice", "VMs", "d", "steps tr/va/te", "windows tr/va/te", "raw min..max",
        "anomalous va/te",
        title=f"Data per VM monitor (d metrics; windows of T={length}, stride {stride})",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for s in summaries:
        steps, windows = s["steps"], s["windows"]
        anomalous = [
            sum(v["steps"] for v in s["anomalies"][p].values()) for p in ("validation", "test")
        ]
        table.add_row(
            s["monitor"],
            s["slice"],
            ", ".join(s["vms"]),
            str(s["metrics"]),
            "/".join(str(steps[p]) for p in ("train", "validation", "test")),
            "/".join(str(windows[p]) for p in ("train", "validation", "test")),
            f"{s['raw_range'][0]:.3g}..{s['raw_range'][1]:.3g}",
            f"{anomalous[0] / steps['validation']:.1%}/{anomalous[1] / steps['test']:.1%}",
        )
    return table


def anomaly_table(summaries: list[dict[str, Any]]) -> Table:
    """Anomaly events and steps by type, summed over monitors."""
    totals = anomaly_totals(summaries)
    parts = ("validation", "test")
    columns = [f"{part} {key}" for part in parts for key in ("events", "steps")]
    table = Table("type", *columns, title="Anomalies by type (all monitors)", box=box.SIMPLE_HEAD)
    zero = {"events": 0, "steps": 0}
    for name in sorted({name for part in parts for name in totals[part]}):
        counts = [totals[part].get(name, zero) for part in parts]
        table.add_row(name, *(str(c[key]) for c in counts for key in ("events", "steps")))
    return table


def metric_table(monitor: str, rows: list[dict[str, Any]]) -> Table:
    """Per-metric ranges of one monitor."""
    table = Table(
        "metric", "family", "role", "train min", "train max", "train mean", "test min", "test max",
        title=f"Metrics of monitor {monitor} (first VM, source units)",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for row in rows:
        numbers = (row[k] for k in ("train_min", "train_max", "train_mean", "test_min", "test_max"))
        table.add_row(row["metric"], row["family"], row["role"], *(f"{v:.4g}" for v in numbers))
    return table


@data_app.command("plot")
@reports_input_errors
def data_plot(
    monitor: Annotated[str, typer.Option(help="Monitor to draw.")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
    source: SourceArg = None,
    topology: TopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    split: Annotated[str, typer.Option(help="all, train, validation or test.")] = "all",
    vm: Annotated[str | None, typer.Option(help="VM of the monitor (default: its first).")] = None,
    seed: Seed = None,
    length: Length = None,
    inject: Inject = None,
    rate: Rate = None,
    intensity: Intensity = None,
    partition: Partition = None,
) -> None:
    """Draw a monitor's metrics by family with injected anomalies shaded by type."""
    check_figure_name(out, "--out")
    chosen = data_topology(
        source, topology, slices, monitors, seed, length, inject, rate, intensity, partition
    )
    require_monitor(chosen, monitor)
    data: MonitorData = prepare_monitors(chosen, only={monitor})[0]
    names = [v.name for v in data.vms]
    if vm is not None and vm not in names:
        raise InputError(f"monitor {monitor} holds no VM '{vm}' (VMs: {', '.join(names)})")
    chosen_vm = data.vms[names.index(vm) if vm else 0]
    title = f"monitor {data.name} (slice {data.slice_name}), VM {chosen_vm.name}, {data.source}"
    plot_vm(chosen_vm, title, out, split)
    console.print(f"wrote {out}")
