"""``fedanomaly generate``: train CMSF-GAN and write generated anomalous windows of one type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from fedanomaly.cli.common import (
    DataOption,
    Inject,
    Intensity,
    Json,
    Monitors,
    Rate,
    Seed,
    Slices,
    console,
    errors,
    injection_options,
    number,
    reports_input_errors,
    show,
)
from fedanomaly.config import parse_source
from fedanomaly.config.overrides import option_settings, resolve_topology
from fedanomaly.data.injection import ANOMALY_KINDS
from fedanomaly.errors import InputError
from fedanomaly.files import check_output_file

#: The most windows one call generates (1,000,000 windows of 8 steps and 26 metrics: 0.8 GB).
MAX_COUNT = 1_000_000


@reports_input_errors
def generate(
    topology: Annotated[
        Path | None, typer.Argument(help="Topology YAML.", show_default=False)
    ] = None,
    type_name: Annotated[
        str,
        typer.Option("--type", help="Anomaly type to generate (any of the seven: see data types)."),
    ] = "memory_leak",
    count: Annotated[
        int, typer.Option(min=1, max=MAX_COUNT, metavar="N", help="Windows to generate.")
    ] = 100,
    out: Annotated[Path, typer.Option(help="Output .npz file.")] = Path("generated.npz"),
    slices: Slices = None,
    monitors: Monitors = None,
    data: DataOption = None,
    inject: Inject = None,
    rate: Rate = None,
    intensity: Intensity = None,
    iterations: Annotated[int | None, typer.Option(help="Training iterations I.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Windows per batch M.")] = None,
    seed: Seed = None,
    as_json: Json = False,
) -> None:
    """Generate windows of one anomaly type with CMSF-GAN (seed 000), and their quality.

    Trained on the monitors' typed anomalies; quality: type accuracy, discriminative score."""
    from fedanomaly.data.pipeline import prepare_monitors
    from fedanomaly.generation import (
        check_batch,
        generate_anomalies,
        labelled_names,
        write_generated,
    )

    if type_name not in ANOMALY_KINDS:
        raise InputError(
            f"--type: unknown anomaly type '{type_name}'; one of {', '.join(ANOMALY_KINDS)}"
        )
    settings, flags = option_settings(
        {
            "model.iterations": ("--iterations", iterations),
            "model.batch_size": ("--batch-size", batch_size),
            "seed": ("--seed", seed),
            **injection_options(inject, rate, intensity),
        }
    )
    if iterations is not None:  # one trainer, no FedAvg: a file's L and L1 must not refuse it
        settings |= {"model.local_iterations": 1, "model.slice_iterations": 1}
    source = parse_source(data) if data is not None else None
    chosen = resolve_topology(topology, slices, monitors, source, settings, flags)
    if type_name not in chosen.data.injection.types:  # learn it beside the topology's types
        settings["data.injection.types"] = [*chosen.data.injection.types, type_name]
        flags["data.injection.types"] = "--inject, --type" if inject is not None else "--type"
        chosen = resolve_topology(topology, slices, monitors, source, settings, flags)
    check_output_file(out, "--out")
    if out.name.lower() == ".npz":
        raise InputError(f"--out {out}: give the file a name before .npz")
    if out.suffix != ".npz":
        raise InputError(
            f"--out {out}: generated windows are written as .npz; give a name ending in .npz"
        )
    check_batch(chosen)
    # bad data is refused before the progress bar starts; monitors without labelled anomalies
    # take no part, so their data are not read
    prepared = prepare_monitors(chosen, set(labelled_names(chosen)))
    progress = Progress(
        TextColumn("[bold]CMSF-GAN"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"), TimeRemainingColumn(),
        console=errors, transient=as_json,
    )  # fmt: skip
    with progress:
        task = progress.add_task("train", total=chosen.model.iterations, losses="")

        def on_iteration(done: int, d_loss: float, g_loss: float) -> None:
            progress.update(task, completed=done, losses=f"D {d_loss:.3f}  G {g_loss:.3f}")

        result = generate_anomalies(chosen, type_name, count, on_iteration, prepared)
    write_generated(result, out)
    quality = result.quality
    report = {
        "type": result.type_name,
        "count": count,
        "out": str(out),
        "iterations": result.iterations,
        "training_seconds": round(result.training_seconds, 3),
        "type_accuracy": quality.type_accuracy,
        "real_type_accuracy": quality.real_type_accuracy,
        "discriminative_score": quality.discriminative_score,
        "type_accuracy_by_type": quality.type_accuracy_by_type,
    }
    if as_json:
        print(json.dumps(report, indent=2))
        return
    table = Table("type", "classified as requested", title="generated windows", box=box.SIMPLE_HEAD)
    for name, accuracy in quality.type_accuracy_by_type.items():
        table.add_row(name, number(accuracy))
    table.add_row("all", number(quality.type_accuracy), style="bold")
    show(table)
    console.print(
        f"real held-out windows classified correctly: {number(quality.real_type_accuracy)}; "
        f"discriminative score (0.5 ideal): {number(quality.discriminative_score)}"
    )
    console.print(f"wrote {count} {result.type_name} windows to {out}")
