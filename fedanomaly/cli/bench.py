"""``fedanomaly bench``: sweeps of real short simulations, measured payload beside the closed
form, with time, memory, precision and scale figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from fedanomaly.cli.common import (
    DataOption,
    Monitors,
    Slices,
    console,
    errors,
    number,
    reports_input_errors,
    show,
)
from fedanomaly.config import parse_source
from fedanomaly.config.overrides import resolve_topology
from fedanomaly.config.schema import Topology
from fedanomaly.errors import InputError
from fedanomaly.files import check_output_file, refuse_bad_output_path

bench_app = typer.Typer(
    help="Sweeps of real short simulations: measured bytes beside the closed form.",
    no_args_is_help=True,
)

BenchTopologyFile = Annotated[
    Path | None,
    typer.Option("--topology", "-t", help="Topology YAML (default: 3 slices x 9 monitors)."),
]


def int_list(text: str, option: str) -> list[int]:
    """``10,20,30`` as integers; a clear error otherwise (an empty entry included)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise InputError(
            f"{option}: expected comma-separated whole numbers, got '{text}'"
        ) from None
    if not values or min(values) < 1:
        raise InputError(f"{option}: expected positive whole numbers, got '{text}'")
    return values


Points = Annotated[str | None, typer.Option(help="Comma-separated values of the swept setting.")]
BenchIterations = Annotated[int, typer.Option(help="Iterations I of every point.")]
BenchOut = Annotated[Path, typer.Option(help="Output path without suffix (.csv and .png).")]
RayAddress = Annotated[
    str | None, typer.Option(help="Join this Ray cluster instead of starting a local one.")
]
Modes = Annotated[
    str,
    typer.Option(
        help="Comma-separated training modes, one line each in the plots (default: all four).",
        show_default=False,
    ),
]
ALL_MODES = "centralized,standalone,distributed,federated"


def name_list(text: str, option: str) -> list[str]:
    """``a,b,c`` as names; a clear error when empty or an entry is."""
    values = [v.strip() for v in text.split(",")]
    if not all(values):
        raise InputError(f"{option}: expected a comma-separated list, got '{text}'")
    return values


def sweep_points(
    topology: Path | None,
    data: str | None,
    sizes: list[tuple[int | None, int | None]],
    settings: list[dict[str, Any]],
    flags: dict[str, str],
) -> list[Topology]:
    """One topology per point: (slices, monitors) and dotted settings of each point, on the
    data source ``data`` if given; the paper's 3 slices x 9 monitors where neither a file nor
    sizes are given."""
    source = parse_source(data) if data is not None else None
    points = []
    for (slices, monitors), point in zip(sizes, settings, strict=True):
        if topology is None and slices is None and monitors is None:
            slices, monitors = 3, 9
        points.append(resolve_topology(topology, slices, monitors, source, point, flags))
    if points[0].model.is_local:
        raise InputError(
            f"bench: model {points[0].model.name} is a local model; the sweeps measure the "
            "split models' exchange (biwgan-gp and its baselines)"
        )
    return points


def run_sweep(
    points: list[Topology],
    row: Any,
    x: str,
    headline: tuple[str, ...],
    panels: list[Any],
    out: Path,
    title: str,
    ray_address: str | None,
) -> None:
    """Simulate each point, print the measured payload beside the closed form with the
    ``headline`` columns, and write ``<out>.csv`` and ``<out>.png``."""
    from fedanomaly.bench.sweeps import (
        PAYLOAD_COLUMNS,
        PAYLOAD_PANEL,
        result_paths,
        sweep,
        write_results,
    )

    modes = len({p.mode for p in points}) > 1
    leading = ("mode", x) if modes else (x,)
    table = Table(
        *(c.replace("_", " ") for c in (*leading, *headline, *PAYLOAD_COLUMNS)), "match",
        title=title, box=box.SIMPLE_HEAD,
    )  # fmt: skip

    def on_point(entry: dict[str, Any]) -> None:
        same = entry["up_measured"] == entry["up_closed_form"] and (
            entry["down_measured"] == entry["down_closed_form"]
        )
        table.add_row(
            *(number(v) if isinstance(v := entry[k], float) else str(v)
              for k in (*leading, *headline, *PAYLOAD_COLUMNS)),
            "yes" if same else "[red]NO[/red]",
        )  # fmt: skip
        detection = ""
        if "vus_pr" in entry:
            detection = f" (F1 {entry['f1']:.3f}, VUS-PR {entry['vus_pr']:.3f})"
        errors.print(f"{' '.join(str(entry[k]) for k in leading)}: done{detection}")

    if out.is_dir():  # "." would name the results ".csv" and ".png"
        raise InputError(
            f"--out {out}: is a folder; give a name for the results, e.g. {out / 'sweep'}"
        )
    table_path, figure_path = result_paths(out)
    check_output_file(table_path, "--out")
    refuse_bad_output_path(figure_path, "--out")  # same folder
    rows = sweep(points, row, ray_address, on_point)
    csv_path, png_path = write_results(rows, x, out, title, [*panels, PAYLOAD_PANEL])
    show(table)
    console.print(f"wrote {csv_path} and {png_path}")


@bench_app.command("batch")
@reports_input_errors
def bench_batch(
    topology: BenchTopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    data: DataOption = None,
    sizes: Points = "10,20,30,40,50",
    iterations: BenchIterations = 20,
    out: BenchOut = Path("results/bench-batch"),
    ray_address: RayAddress = None,
) -> None:
    """Monitor <-> slice payload against the batch size M (Fig. 7b of 002)."""
    from fedanomaly.bench.sweeps import batch_row

    values = int_list(sizes or "", "--sizes")
    base = {"mode": "federated", "model.iterations": iterations,
            "model.local_iterations": min(10, iterations)}  # fmt: skip
    points = sweep_points(
        topology, data, [(slices, monitors)] * len(values),
        [{**base, "model.batch_size": v} for v in values],
        {"model.batch_size": "--sizes", "model.iterations": "--iterations"},
    )  # fmt: skip
    run_sweep(points, batch_row, "batch_size", (), [], out,
              "monitor <-> slice payload against M", ray_address)  # fmt: skip


@bench_app.command("aggregation")
@reports_input_errors
def bench_aggregation(
    topology: BenchTopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    data: DataOption = None,
    local: Points = "10,20,30,40,50",
    iterations: BenchIterations = 100,
    out: BenchOut = Path("results/bench-aggregation"),
    ray_address: RayAddress = None,
) -> None:
    """Slice <-> controller payload against L, iterations between FedAvg rounds (Fig. 7c)."""
    from fedanomaly.bench.sweeps import aggregation_row

    values = int_list(local or "", "--local")
    points = sweep_points(
        topology, data, [(slices, monitors)] * len(values),
        [{"mode": "federated", "model.iterations": iterations, "model.local_iterations": v}
         for v in values],
        {"model.local_iterations": "--local", "model.iterations": "--iterations"},
    )  # fmt: skip
    run_sweep(points, aggregation_row, "local_iterations", (), [], out,
              "slice <-> controller payload against L", ray_address)  # fmt: skip


@bench_app.command("time")
@reports_input_errors
def bench_time(
    topology: BenchTopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    data: DataOption = None,
    iterations: Annotated[
        str, typer.Option(help="Comma-separated iteration counts I.")
    ] = "10,20,40",
    modes: Modes = ALL_MODES,
    out: BenchOut = Path("results/bench-time"),
    ray_address: RayAddress = None,
) -> None:
    """Computation time per tier against the iterations I, per mode (Fig. 7a of 002)."""
    from fedanomaly.bench.sweeps import Panel, time_row

    values = int_list(iterations, "--iterations")
    grid = [(mode, v) for mode in name_list(modes, "--modes") for v in values]
    points = sweep_points(
        topology, data, [(slices, monitors)] * len(grid),
        [{"mode": mode, "model.iterations": v, "model.local_iterations": min(10, v)}
         for mode, v in grid],
        {"mode": "--modes", "model.iterations": "--iterations"},
    )  # fmt: skip
    panels = [Panel("CPU seconds, all tiers", ("cpu_seconds",)),
              Panel("training wall seconds", ("training_seconds",))]  # fmt: skip
    run_sweep(points, time_row, "iterations", ("cpu_seconds", "training_seconds"), panels, out,
              "computation time against iterations", ray_address)  # fmt: skip


@bench_app.command("memory")
@reports_input_errors
def bench_memory(
    topology: BenchTopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    data: DataOption = None,
    lengths: Annotated[
        str, typer.Option(help="Comma-separated steps per VM of the built-in data source.")
    ] = "1440,2880,5760",
    iterations: BenchIterations = 10,
    modes: Modes = ALL_MODES,
    out: BenchOut = Path("results/bench-memory"),
    ray_address: RayAddress = None,
) -> None:
    """Peak memory per tier against the training-set size, per mode (Fig. 7d of 002)."""
    from fedanomaly.bench.sweeps import TIERS, Panel, memory_row

    values = int_list(lengths, "--lengths")
    grid = [(mode, v) for mode in name_list(modes, "--modes") for v in values]
    source = sweep_points(topology, data, [(slices, monitors)], [{}], {})[0].data.source.type
    if source != "synthetic-vnf":
        raise InputError(
            f"--lengths: sets the length of the built-in data source (synthetic-vnf); the "
            f"data source here is {source}"
        )
    points = sweep_points(
        topology, data, [(slices, monitors)] * len(grid),
        [{"mode": mode, "data.source.length": v, "model.iterations": iterations,
          "model.local_iterations": min(10, iterations)} for mode, v in grid],
        {"mode": "--modes", "data.source.length": "--lengths", "model.iterations": "--iterations"},
    )  # fmt: skip
    panels = [Panel(f"{tier.replace('_', ' ')} peak memory (MB)", (f"{tier}_memory_mb",))
              for tier in TIERS]  # fmt: skip
    headline = tuple(f"{tier}_memory_mb" for tier in TIERS)
    run_sweep(points, memory_row, "training_windows", headline, panels, out,
              "peak memory per tier against training windows per monitor",
              ray_address)  # fmt: skip


@bench_app.command("precision")
@reports_input_errors
def bench_precision(
    topology: BenchTopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    data: DataOption = None,
    precisions: Annotated[
        str, typer.Option(help="Comma-separated payload precisions.")
    ] = "float32,float16,int8",
    iterations: BenchIterations = 100,
    out: BenchOut = Path("results/bench-precision"),
    ray_address: RayAddress = None,
) -> None:
    """Payload of every link, F1 and VUS-PR against the payload precision (beyond the paper).

    The precision is that of everything that crosses a link."""
    from fedanomaly.bench.sweeps import Panel, precision_row

    values = name_list(precisions, "--precisions")
    keys = ("payload.feedback", "payload.generated", "payload.models")
    base = {"mode": "federated", "model.iterations": iterations,
            "model.local_iterations": min(10, iterations)}  # fmt: skip
    points = sweep_points(
        topology, data, [(slices, monitors)] * len(values),
        [{**base, **dict.fromkeys(keys, v)} for v in values],
        {**dict.fromkeys(keys, "--precisions"), "model.iterations": "--iterations"},
    )  # fmt: skip
    run_sweep(points, precision_row, "precision", ("f1", "vus_pr"),
              [Panel("detection", ("f1", "vus_pr"))], out,
              "payload (bytes, every link) and detection against precision",
              ray_address)  # fmt: skip


@bench_app.command("scale")
@reports_input_errors
def bench_scale(
    topology: BenchTopologyFile = None,
    data: DataOption = None,
    sizes: Annotated[
        str, typer.Option(help="Comma-separated SLICESxMONITORS, e.g. 3x9,6x18,9x36.")
    ] = "3x9,6x18,9x36",
    iterations: BenchIterations = 20,
    out: BenchOut = Path("results/bench-scale"),
    ray_address: RayAddress = None,
) -> None:
    """Speed and payload against the number of slices and monitors (federated)."""
    from fedanomaly.bench.sweeps import Panel, scale_row

    pairs = []
    for text in name_list(sizes, "--sizes"):
        slices, _, monitors = text.partition("x")
        if not (slices.isdigit() and monitors.isdigit()) or int(slices) < 1:
            raise InputError(f"--sizes: expected SLICESxMONITORS such as 3x9, got '{text}'")
        if int(monitors) < int(slices):
            raise InputError(f"--sizes {text}: every slice needs a monitor (MONITORS >= SLICES)")
        pairs.append((int(slices), int(monitors)))
    points = sweep_points(
        topology, data, pairs,
        [{"mode": "federated", "model.iterations": iterations,
          "model.local_iterations": min(10, iterations)}] * len(pairs),
        {"model.iterations": "--iterations"},
    )  # fmt: skip
    panels = [Panel("iterations per second", ("iterations_per_second",)),
              Panel("ms per iteration and monitor", ("ms_per_iteration_and_monitor",))]  # fmt: skip
    run_sweep(points, scale_row, "monitors", ("slices", "iterations_per_second"), panels, out,
              "speed and payload against size", ray_address)  # fmt: skip
