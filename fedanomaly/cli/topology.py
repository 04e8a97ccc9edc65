"""``fedanomaly topology``: describe and check slice topologies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.tree import Tree

from fedanomaly.cli.common import Json, Monitors, Slices, console, reports_input_errors
from fedanomaly.config.overrides import resolve_topology
from fedanomaly.config.schema import ModelConfig, PathSource, Topology, source_text
from fedanomaly.data.pipeline import SourceCache, monitor_vms
from fedanomaly.errors import InputError

topology_app = typer.Typer(help="Describe and check slice topologies.", no_args_is_help=True)


@topology_app.command("show")
@reports_input_errors
def topology_show(
    file: Annotated[Path | None, typer.Argument(help="Topology YAML.")] = None,
    slices: Slices = None,
    monitors: Monitors = None,
    as_json: Json = False,
) -> None:
    """Print a topology as a tree: controller, slices, monitors and their VMs."""
    if file is None and slices is None and monitors is None:
        raise InputError("give a topology file, or --slices S --monitors N")
    topology = resolve_topology(file, slices, monitors)
    if as_json:
        print(topology.model_dump_json(indent=2))
        return
    console.print(topology_tree(topology))
    console.print(topology_counts(topology))


def topology_counts(topology: Topology) -> str:
    """``1 controller, 3 slices, 9 monitors``."""
    slices, monitors = len(topology.slices), len(topology.monitors)
    return (
        f"1 controller, {slices} slice{'s' * (slices != 1)}, "
        f"{monitors} monitor{'s' * (monitors != 1)}"
    )


def generator_iterations(model: ModelConfig) -> str:
    """`` I_G=...`` where CMSF-GAN trains first (cmsf-attae), else nothing."""
    return f" I_G={model.generator_iterations}" if model.name == "cmsf-attae" else ""


def topology_tree(topology: Topology) -> Tree:
    """A rich tree of the topology with its links and main settings."""
    links = topology.links
    model = topology.model
    root = Tree(
        f"[bold]{topology.name}[/]  mode={topology.mode} model={model.name} seed={topology.seed}  "
        f"I={model.iterations}{generator_iterations(model)} K={model.critic_iterations} "
        f"L={model.local_iterations} "
        f"M={model.batch_size} T={model.window_length}"
    )
    controller = root.add(
        f"[bold]controller[/] {topology.controller.name}  "
        f"(slice link {links.slice_controller.bandwidth_mbps:g} Mbit/s, "
        f"{links.slice_controller.latency_ms:g} ms)"
    )
    for slice_ in topology.slices:
        branch = controller.add(
            f"[bold]slice[/] {slice_.name}  device={topology.slice_device(slice_)}  "
            f"(monitor link {links.monitor_slice.bandwidth_mbps:g} Mbit/s, "
            f"{links.monitor_slice.latency_ms:g} ms)"
        )
        for monitor in slice_.monitors:
            monitor_source = source_text(monitor.source or topology.data.source)
            vms = ", ".join(monitor.vms) if monitor.vms else "auto"
            branch.add(f"monitor {monitor.name}  VMs: {vms}  data: {monitor_source}")
    return root


@topology_app.command("validate")
@reports_input_errors
def topology_validate(file: Annotated[Path, typer.Argument(help="Topology YAML.")]) -> None:
    """Check a topology's schema, its data paths and the VMs it names; exit 2 naming a problem.

    The data paths must open and the VMs the file names must be in their sources."""
    topology = resolve_topology(file)
    sources = [("data.source", topology.data.source)] + [
        (f"slices[{s}].monitors[{m}].source", monitor.source)
        for s, slice_ in enumerate(topology.slices)
        for m, monitor in enumerate(slice_.monitors)
        if monitor.source
    ]
    pathless = [
        (where, source)
        for where, source in sources
        if isinstance(source, PathSource) and source.path is None
    ]
    cache = SourceCache(topology.seed)
    for where, source in sources:
        if getattr(source, "path", None) is not None:
            try:
                cache.source(source)
            except InputError as error:
                raise InputError(f"{file}: {where}: {error}") from None
    if not pathless:  # the VMs named, and one for every monitor (errors name the file)
        monitor_vms(topology, cache)
    console.print(f"valid: {file}: {topology_counts(topology)}")
    for where, source in pathless:
        console.print(
            f"note: {where} ({source.type}) names no path: runs need one, as simulate's "
            f"--data {source.type}:PATH or data inspect's SOURCE argument {source.type}:PATH"
        )
