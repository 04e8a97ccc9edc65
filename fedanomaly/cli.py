"""The ``fedanomaly`` command line: thin wrappers that parse, call one function and print."""

from __future__ import annotations

import functools
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich import box
from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.tree import Tree

from fedanomaly import __version__
from fedanomaly.config import parse_source
from fedanomaly.config.overrides import resolve_topology
from fedanomaly.config.schema import ModelConfig, Topology
from fedanomaly.data.injection import ANOMALY_KINDS
from fedanomaly.data.inspection import metric_summary, monitor_summary
from fedanomaly.data.pipeline import MonitorData, prepare_monitors
from fedanomaly.data.plotting import plot_vm
from fedanomaly.data.sources import open_source
from fedanomaly.errors import InputError

app = typer.Typer(
    name="fedanomaly",
    help="Federated VM anomaly detection across the tiers of virtualized network slicing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
topology_app = typer.Typer(help="Describe and check slice topologies.", no_args_is_help=True)
data_app = typer.Typer(help="Look at the data each VM monitor holds.", no_args_is_help=True)
app.add_typer(topology_app, name="topology")
bench_app = typer.Typer(
    help="Sweeps of real short simulations: measured bytes beside the closed form.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")
app.add_typer(bench_app, name="bench")

console = Console(width=None if Console().is_terminal else 160)
errors = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def reports_input_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn an :class:`InputError` into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            errors.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


TopologyFile = Annotated[
    Path | None,
    typer.Option("--topology", "-t", help="Topology YAML (default: the source's own layout)."),
]
BenchTopologyFile = Annotated[
    Path | None,
    typer.Option("--topology", "-t", help="Topology YAML (default: 3 slices x 9 monitors)."),
]
Slices = Annotated[int | None, typer.Option("--slices", "-s", help="Balanced topology: slices.")]
Monitors = Annotated[
    int | None, typer.Option("--monitors", "-n", help="Balanced topology: monitors.")
]
Seed = Annotated[int | None, typer.Option(help="Seed (default: the topology's).")]
Length = Annotated[int | None, typer.Option(help="Steps per VM of synthetic-vnf data.")]
Inject = Annotated[
    str | None,
    typer.Option("--inject", help="Comma-separated anomaly types to inject (see `data types`)."),
]
Rate = Annotated[float | None, typer.Option(help="Fraction of anomalous steps to inject.")]
Intensity = Annotated[float | None, typer.Option(help="Anomaly size in train standard deviations.")]
Partition = Annotated[
    str | None,
    typer.Option(help="entity: a VM per monitor; split: one series cut into a share per monitor."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
SourceArg = Annotated[
    str | None,
    typer.Argument(
        help="TYPE or TYPE:PATH (synthetic-vnf, smd:DIR, bitbrains:DIR, csv:FILE, pickle:DIR), "
        "options as ?key=value&...; default: the topology's source, else synthetic-vnf",
        show_default=False,
    ),
]


DATA_FLAGS = {
    "seed": "--seed",
    "data.source.length": "--length",
    "data.injection.types": "--inject",
    "data.injection.rate": "--rate",
    "data.injection.intensity": "--intensity",
    "data.partition": "--partition",
}


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
    settings: dict[str, Any] = {
        "seed": seed,
        "data.source.length": length,
        "data.injection.types": inject.split(",") if inject else None,
        "data.injection.rate": rate,
        "data.injection.intensity": intensity,
        "data.partition": partition,
    }
    parsed = parse_source(source) if source is not None else None
    return resolve_topology(topology, slices, monitors, parsed, settings, DATA_FLAGS)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"fedanomaly {__version__}")


@topology_app.command("show")
@reports_input_errors
def topology_show(
    file: Annotated[Path | None, typer.Argument(help="Topology YAML.")] = None,
    slices: Slices = None,
    monitors: Monitors = None,
    as_json: Json = False,
) -> None:
    """Print a topology as a tree: controller, slices, monitors and their VMs."""
    if file is None and slices is None:
        raise InputError("give a topology file, or --slices S --monitors N")
    topology = resolve_topology(file, slices, monitors)
    if as_json:
        print(topology.model_dump_json(indent=2))
        return
    console.print(topology_tree(topology))
    console.print(topology_counts(topology))


def topology_counts(topology: Topology) -> str:
    """``1 controller, 3 slices, 9 monitors``."""
    return f"1 controller, {len(topology.slices)} slices, {len(topology.monitors)} monitors"


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
    source = topology.data.source
    where = f"{source.type}:{source.path}" if getattr(source, "path", None) else source.type
    for slice_ in topology.slices:
        branch = controller.add(
            f"[bold]slice[/] {slice_.name}  device={topology.slice_device(slice_)}  "
            f"(monitor link {links.monitor_slice.bandwidth_mbps:g} Mbit/s, "
            f"{links.monitor_slice.latency_ms:g} ms)"
        )
        for monitor in slice_.monitors:
            own = monitor.source
            monitor_source = (
                where
                if own is None
                else f"{own.type}:{own.path}"
                if getattr(own, "path", None)
                else own.type
            )
            vms = ", ".join(monitor.vms) if monitor.vms else "auto"
            branch.add(f"monitor {monitor.name}  VMs: {vms}  data: {monitor_source}")
    return root


@topology_app.command("validate")
@reports_input_errors
def topology_validate(file: Annotated[Path, typer.Argument(help="Topology YAML.")]) -> None:
    """Check a topology file against the schema and its data paths; exit 2 naming the problem."""
    topology = resolve_topology(file)
    sources = [topology.data.source] + [m.source for _, m in topology.monitors if m.source]
    for source in sources:
        if getattr(source, "path", None) is not None:
            open_source(source, topology.seed)
    console.print(f"valid: {file}: {topology_counts(topology)}")


@data_app.command("types")
def data_types() -> None:
    """List the anomaly types that can be injected and what each changes."""
    table = Table("type", "families", "moves (metric role: direction)", "shape over the event")
    for kind in ANOMALY_KINDS.values():
        moves = ", ".join(
            f"{role.value} {'up' if sign > 0 else 'down'}" for role, sign in kind.signs.items()
        )
        shape = (kind.profile.__doc__ or "").strip().rstrip(".")
        if kind.magnitude != 1.0:
            shape += f"; {kind.magnitude:g} x intensity"
        if kind.short:
            shape += "; 1-3 steps"
        table.add_row(kind.name, ", ".join(f.value for f in kind.families), moves, shape)
    console.print(table)


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
        print(json.dumps({"monitors": summaries, "metrics": metrics}, indent=2))
        return
    console.print(summary_table(summaries, model.window_length, model.window_stride))
    console.print(anomaly_table(summaries))
    if metrics:
        console.print(metric_table(monitor or "", metrics))


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
    totals: dict[str, dict[str, int]] = {}
    for s in summaries:
        for part, counts in s["anomalies"].items():
            for name, count in counts.items():
                entry = totals.setdefault(name, {})
                for key in ("events", "steps"):
                    entry[f"{part} {key}"] = entry.get(f"{part} {key}", 0) + count[key]
    columns = ["validation events", "validation steps", "test events", "test steps"]
    table = Table("type", *columns, title="Anomalies by type (all monitors)", box=box.SIMPLE_HEAD)
    for name, entry in sorted(totals.items()):
        table.add_row(name, *(str(entry.get(c, 0)) for c in columns))
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


SIMULATE_FLAGS = {
    "mode": "--mode",
    "model.name": "--model",
    "model.iterations": "--iterations",
    "model.batch_size": "--batch-size",
    "model.critic_iterations": "--critic-iters",
    "model.local_iterations": "--local-iters",
    "model.slice_iterations": "--slice-iters",
    "evaluation.threshold": "--threshold",
    "model.reconstruction_score": "--score",
    "model.metric_pooling": "--pooling",
    "model.fine_tune_iterations": "--fine-tune",
    "payload.feedback": "--precision",
    "payload.generated": "--precision",
    "payload.models": "--precision",
    "seed": "--seed",
}


@app.command()
@reports_input_errors
def simulate(
    topology: Annotated[
        Path | None, typer.Argument(help="Topology YAML.", show_default=False)
    ] = None,
    slices: Slices = None,
    monitors: Monitors = None,
    mode: Annotated[
        str | None, typer.Option(help="centralized, standalone, distributed or federated.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="biwgan-gp, a Fig. 9 baseline (bigan, wgan-gp, wgan, gan), attae (local model) "
            "or cmsf-attae (CMSF-GAN, then ATTAE with its generated anomalies)."
        ),
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="Data source, TYPE[:PATH][?key=value&...].")
    ] = None,
    iterations: Annotated[int | None, typer.Option(help="Training iterations I.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Windows per batch M.")] = None,
    critic_iters: Annotated[int | None, typer.Option(help="Critic steps per G/E step K.")] = None,
    local_iters: Annotated[
        int | None, typer.Option(help="Iterations between FedAvg rounds L.")
    ] = None,
    slice_iters: Annotated[
        int | None,
        typer.Option(help="Local models: iterations between two averages at the slice L1."),
    ] = None,
    threshold: Annotated[
        str | None,
        typer.Option(
            help="Deployable threshold: validation (eq. 33), pot, sigma, adaptive, or generated "
            "(cmsf-attae: eq. 33 with generated anomalies, no labels)."
        ),
    ] = None,
    score: Annotated[
        str | None,
        typer.Option(
            help="attae, cmsf-attae: a step's score from its reconstruction error, mse (the "
            "paper's), standardized (per metric by mean and standard deviation on the training "
            "windows: eq. 28's term, kept per position) or robust (per metric by median and "
            "interquartile range, absolute)."
        ),
    ] = None,
    pooling: Annotated[
        str | None,
        typer.Option(
            help="biwgan-gp and its baselines: how eq. 28's reconstruction term pools a "
            "window's metrics, mean (the paper's) or max (the metric furthest above its "
            "training level: for faults that move a few metrics)."
        ),
    ] = None,
    fine_tune: Annotated[
        int | None,
        typer.Option(
            "--fine-tune",
            help="attae, cmsf-attae: iterations each monitor trains the received model on its "
            "own windows after training, before detecting (0: none).",
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="Payload precision of everything that crosses a link: float32, float16 or "
            "int8 (per kind: the topology's payload section)."
        ),
    ] = None,
    seed: Seed = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<time>-<name>-<mode>).")
    ] = None,
    as_json: Json = False,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Join this Ray cluster (host:port or auto) instead of a local one."),
    ] = None,
    verbose: Annotated[bool, typer.Option(help="Show Ray's and Flower's logging too.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Serve live Prometheus metrics on this port."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address the metrics endpoint binds to.")
    ] = "127.0.0.1",
) -> None:
    """Train across the tiers, detect on every monitor, and report costs and detection."""
    # Ray, Flower and PyTorch load only for this command, so the others start fast.
    from fedanomaly.runs.directory import default_run_dir
    from fedanomaly.runs.live import LiveMetrics
    from fedanomaly.simulation import RunFailedError, prepare_run
    from fedanomaly.simulation import simulate as run_simulation

    settings = {
        "mode": mode,
        "model.name": model,
        "model.iterations": iterations,
        "model.batch_size": batch_size,
        "model.critic_iterations": critic_iters,
        "model.local_iterations": local_iters,
        "model.slice_iterations": slice_iters,
        "evaluation.threshold": threshold,
        "model.reconstruction_score": score,
        "model.metric_pooling": pooling,
        "model.fine_tune_iterations": fine_tune,
        "payload.feedback": precision,
        "payload.generated": precision,
        "payload.models": precision,
        "seed": seed,
    }
    source = parse_source(data) if data is not None else None
    chosen = resolve_topology(topology, slices, monitors, source, settings, SIMULATE_FLAGS)
    run_dir = out or default_run_dir(chosen)
    prepared = prepare_run(chosen, run_dir, ray_address)
    live = LiveMetrics(chosen, metrics_port, metrics_host) if metrics_port is not None else None
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}  {task.fields[sent]}"),
        TimeRemainingColumn(),
        console=errors,
        transient=as_json,
    )
    with progress:
        task = progress.add_task(
            f"{chosen.mode} {chosen.model.name}",
            total=chosen.model.training_iterations,
            losses="",
            sent="0 B",
        )

        def on_progress(done: int, latest: dict[str, Any]) -> None:
            progress.update(
                task,
                completed=done,
                losses=loss_text(latest),
                sent=human_bytes(latest["bytes"]),
            )

        try:
            summary = run_simulation(
                chosen, run_dir, ray_address, verbose, on_progress, prepared, live
            )
        except RunFailedError as error:
            raise InputError(f"{error} (run directory kept: {run_dir})") from None
        finally:
            if live is not None:
                live.close()
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    console.print(summary_tables(summary))
    console.print(f"run directory: {run_dir}")


@app.command()
@reports_input_errors
def generate(
    topology: Annotated[
        Path | None, typer.Argument(help="Topology YAML.", show_default=False)
    ] = None,
    type_name: Annotated[
        str,
        typer.Option("--type", help="Anomaly type to generate (any of the seven: see data types)."),
    ] = "memory_leak",
    count: Annotated[int, typer.Option(min=1, help="Windows to generate.")] = 100,
    out: Annotated[Path, typer.Option(help="Output .npz file.")] = Path("generated.npz"),
    slices: Slices = None,
    monitors: Monitors = None,
    data: Annotated[
        str | None, typer.Option(help="Data source, TYPE[:PATH][?key=value&...].")
    ] = None,
    iterations: Annotated[int | None, typer.Option(help="Training iterations I.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Windows per batch M.")] = None,
    seed: Seed = None,
    as_json: Json = False,
) -> None:
    """Train CMSF-GAN (seed 000) on the monitors' typed anomalies and generate windows of one
    type, with the generation quality (type accuracy, discriminative score)."""
    from fedanomaly.generation import generate_anomalies, write_generated

    if type_name not in ANOMALY_KINDS:
        raise InputError(
            f"--type: unknown anomaly type '{type_name}'; one of {', '.join(ANOMALY_KINDS)}"
        )
    settings = {"model.iterations": iterations, "model.batch_size": batch_size, "seed": seed}
    flags = {"model.iterations": "--iterations", "model.batch_size": "--batch-size",
             "data.injection.types": "--type"}  # fmt: skip
    source = parse_source(data) if data is not None else None
    chosen = resolve_topology(topology, slices, monitors, source, settings, flags)
    if type_name not in chosen.data.injection.types:  # learn it beside the topology's types
        settings["data.injection.types"] = [*chosen.data.injection.types, type_name]
        chosen = resolve_topology(topology, slices, monitors, source, settings, flags)
    if not out.parent.is_dir():
        raise InputError(f"--out: {out}: the folder {out.parent} does not exist")
    progress = Progress(
        TextColumn("[bold]CMSF-GAN"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"), TimeRemainingColumn(),
        console=errors, transient=as_json,
    )  # fmt: skip
    with progress:
        task = progress.add_task("train", total=chosen.model.training_iterations, losses="")

        def on_iteration(done: int, d_loss: float, g_loss: float) -> None:
            progress.update(task, completed=done, losses=f"D {d_loss:.3f}  G {g_loss:.3f}")

        result = generate_anomalies(chosen, type_name, count, on_iteration)
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
    console.print(table)
    console.print(
        f"real held-out windows classified correctly: {number(quality.real_type_accuracy)}; "
        f"discriminative score (0.5 ideal): {number(quality.discriminative_score)}"
    )
    console.print(f"wrote {count} {result.type_name} windows to {out}")


def loss_text(latest: dict[str, Any]) -> str:
    """The latest losses for the progress bar: ``D -4.433  EG +4.899`` or ``MSE 0.0123``."""
    if "loss" in latest:
        return f"MSE {latest['loss']:.4f}"
    return f"D {latest['critic_loss']:+.3f}  EG {latest['eg_loss']:+.3f}"


def human_bytes(count: float) -> str:
    """``1.5 MB`` style."""
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1000
    return f"{count:.1f} GB"


def number(value: float | None) -> str:
    """Three decimals, or ``n/a`` for an undefined figure."""
    return "n/a" if value is None else f"{value:.3f}"


def summary_tables(summary: dict[str, Any]) -> Group:
    """The closing tables of a run: cost per link and tier, detection overall and per type."""
    links = Table(
        "link", "up", "down", "messages", "on the link (s)", title="Communication",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for link, entry in summary["communication"].items():
        links.add_row(link, human_bytes(entry["up_bytes"]), human_bytes(entry["down_bytes"]),
                      str(entry["messages"]), f"{entry['transfer_seconds']:.2f}")  # fmt: skip
    tiers = Table("tier", "CPU s", "wall s", "peak memory", title="Tiers", box=box.SIMPLE_HEAD)
    for tier in summary["compute_seconds"]:
        tiers.add_row(
            tier,
            f"{summary['compute_seconds'][tier]:.2f}",
            f"{summary['compute_wall_seconds'][tier]:.2f}",
            human_bytes(summary["peak_memory_bytes"][tier]),
        )
    detection = summary["detection"]
    method = detection["threshold_method"]
    quality = Table(
        "anomalies", "precision", "recall", "F1", "accuracy", "AUC-PR",
        title=f"Detection at the deployable threshold ({method}): all = means over monitors, "
        "per type = pooled over monitors",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    overall = detection["overall"]
    quality.add_row(
        "all", *(number(overall[k]) for k in ("precision", "recall", "f1", "accuracy", "auc_pr"))
    )
    for name, entry in detection["by_type"].items():
        quality.add_row(
            name, *(number(entry[k]) for k in ("precision", "recall", "f1", "accuracy", "auc_pr"))
        )
    ranking = Table(
        "detector", "VUS-PR", "VUS-ROC", "AUC-PR", "AUC-ROC",
        f"F1 ({method}{'; controls: validation' if method == 'generated' else ''})", "",
        title=f"Against the controls (VUS window {detection['vus_window']:.0f} steps; "
        f"{overall['anomalous_share']:.1%} of test steps anomalous)",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    keys = ("vus_pr", "vus_roc", "auc_pr", "auc_roc", "f1")
    ranking.add_row(summary["model"], *(number(overall[k]) for k in keys), "")
    for name, entry in detection["controls"].items():
        verdict = {True: "beaten", False: "[red]NOT beaten[/red]", None: ""}[
            detection["beats_controls"][name]
        ]
        ranking.add_row(f"control: {name}", *(number(entry[k]) for k in keys), verdict)
    thresholds = Table(
        "threshold", "precision", "recall", "F1", title="F1 by threshold", box=box.SIMPLE_HEAD
    )
    for name, entry in detection["by_threshold"].items():
        label = "oracle (test labels)" if name == "oracle" else f"{name} (deployable)"
        thresholds.add_row(
            label,
            *(number(entry[k]) if k in entry else "" for k in ("precision", "recall", "f1")),
        )
    thresholds.add_row("event-wise F1", "", "", number(overall["event_f1"]), style="dim")
    thresholds.add_row(
        "point-adjusted F1 (legacy)", "", "", number(overall["f1_point_adjusted_legacy"]),
        style="dim",
    )  # fmt: skip
    header = (
        f"{summary['mode']} {summary['model']}: {summary['topology']['slices']} slices, "
        f"{summary['topology']['monitors']} monitors, {summary['iterations']} iterations, "
        f"{summary['wall_seconds']:.1f} s wall, {summary['simulated_seconds']:.1f} s simulated "
        f"({summary['simulated']['transfer_seconds']:.1f} s of it on the links)"
    )
    return Group(header, links, tiers, quality, ranking, thresholds)


def int_list(text: str, option: str) -> list[int]:
    """``10,20,30`` as integers; a clear error otherwise."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
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
    str, typer.Option(help="Comma-separated training modes, one line each in the plots.")
]
BenchData = Annotated[str | None, typer.Option(help="Data source, TYPE[:PATH][?key=value&...].")]
ALL_MODES = "centralized,standalone,distributed,federated"


def name_list(text: str, option: str) -> list[str]:
    """``a,b,c`` as names; a clear error when empty."""
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
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
    from fedanomaly.bench.sweeps import PAYLOAD_COLUMNS, PAYLOAD_PANEL, sweep, write_results

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

    rows = sweep(points, row, ray_address, on_point)
    csv_path, png_path = write_results(rows, x, out, title, [*panels, PAYLOAD_PANEL])
    console.print(table)
    console.print(f"wrote {csv_path} and {png_path}")


@bench_app.command("batch")
@reports_input_errors
def bench_batch(
    topology: BenchTopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    data: BenchData = None,
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
              "monitor <-> slice payload (bytes) against M", ray_address)  # fmt: skip


@bench_app.command("aggregation")
@reports_input_errors
def bench_aggregation(
    topology: BenchTopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    data: BenchData = None,
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
              "slice <-> controller payload (bytes) against L", ray_address)  # fmt: skip


@bench_app.command("time")
@reports_input_errors
def bench_time(
    topology: BenchTopologyFile = None,
    slices: Slices = None,
    monitors: Monitors = None,
    data: BenchData = None,
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
    data: BenchData = None,
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
    points = sweep_points(
        topology, data, [(slices, monitors)] * len(grid),
        [{"mode": mode, "data.source.length": v, "model.iterations": iterations,
          "model.local_iterations": min(10, iterations)} for mode, v in grid],
        {"mode": "--modes", "data.source.length": "--lengths", "model.iterations": "--iterations"},
    )  # fmt: skip
    source = points[0].data.source.type
    if source != "synthetic-vnf":
        raise InputError(
            f"--lengths: sets the length of the built-in data source (synthetic-vnf); the "
            f"topology's data.source is {source}"
        )
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
    data: BenchData = None,
    precisions: Annotated[
        str, typer.Option(help="Comma-separated payload precisions.")
    ] = "float32,float16,int8",
    iterations: BenchIterations = 100,
    out: BenchOut = Path("results/bench-precision"),
    ray_address: RayAddress = None,
) -> None:
    """Payload of every link, F1 and VUS-PR against the payload precision of everything that
    crosses a link (beyond the paper)."""
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
    data: BenchData = None,
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


def main() -> None:
    """Entry point of the ``fedanomaly`` console script."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `fedanomaly ... | head` ends quietly
    app()
