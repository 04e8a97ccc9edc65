"""``fedanomaly simulate``: train across the tiers with a progress bar, then print the run's
summary (or its JSON)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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
    human_bytes,
    injection_options,
    reports_input_errors,
    show,
)
from fedanomaly.cli.report import per_monitor_table, summary_tables
from fedanomaly.config import parse_source
from fedanomaly.config.overrides import option_settings, resolve_topology
from fedanomaly.errors import InputError

#: Where the metrics endpoint binds and how long it stays up after a run, by default.
METRICS_HOST = "127.0.0.1"
METRICS_LINGER = 15.0

#: The panels of ``simulate --help`` besides the shared options'.
TRAINING = "Training"
DETECTION = "Detection"
OUTPUT = "Output"
RUNTIME = "Ray and live metrics"

if TYPE_CHECKING:  # loaded only when simulate runs
    from fedanomaly.runs.live import LiveMetrics


@reports_input_errors
def simulate(
    topology: Annotated[
        Path | None, typer.Argument(help="Topology YAML.", show_default=False)
    ] = None,
    slices: Slices = None,
    monitors: Monitors = None,
    mode: Annotated[
        str | None,
        typer.Option(
            help="centralized, standalone, distributed or federated.", rich_help_panel=TRAINING
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="biwgan-gp, a Fig. 9 baseline (bigan, wgan-gp, wgan, gan), attae (local model) "
            "or cmsf-attae (CMSF-GAN, then ATTAE with its generated anomalies).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    data: DataOption = None,
    inject: Inject = None,
    rate: Rate = None,
    intensity: Intensity = None,
    iterations: Annotated[
        int | None, typer.Option(help="Training iterations I.", rich_help_panel=TRAINING)
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Windows per batch M.", rich_help_panel=TRAINING)
    ] = None,
    critic_iters: Annotated[
        int | None, typer.Option(help="Critic steps per G/E step K.", rich_help_panel=TRAINING)
    ] = None,
    local_iters: Annotated[
        int | None,
        typer.Option(help="Iterations between FedAvg rounds L.", rich_help_panel=TRAINING),
    ] = None,
    slice_iters: Annotated[
        int | None,
        typer.Option(
            help="Local models: iterations between two averages at the slice L1.",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    threshold: Annotated[
        str | None,
        typer.Option(
            help="Deployable threshold: validation (eq. 33), pot, sigma, adaptive, or generated "
            "(cmsf-attae: eq. 33 with generated anomalies, no labels).",
            rich_help_panel=DETECTION,
        ),
    ] = None,
    score: Annotated[
        str | None,
        typer.Option(
            help="attae, cmsf-attae: a step's score from its reconstruction error, mse (the "
            "paper's), standardized (per metric, by training mean and standard deviation) or "
            "robust (per metric, by median and interquartile range).",
            rich_help_panel=DETECTION,
        ),
    ] = None,
    pooling: Annotated[
        str | None,
        typer.Option(
            help="biwgan-gp and its baselines: eq. 28's reconstruction term, mahalanobis "
            "(default: the window's mean residual, whitened), mean (root mean square of the "
            "standardised errors) or max (the metric furthest above its training level).",
            rich_help_panel=DETECTION,
        ),
    ] = None,
    level_stretch: Annotated[
        float | None,
        typer.Option(
            help="biwgan-gp and its baselines: training windows' levels moved away from the "
            "training mean by a factor from [1, 1 + this] (default 0.6; 0: off).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    fine_tune: Annotated[
        int | None,
        typer.Option(
            "--fine-tune",
            help="attae, cmsf-attae: iterations each monitor trains the received model on its "
            "own windows after training, before detecting (0: none).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="Payload precision of what crosses a link in training: float32, float16 or "
            "int8 (centralized mode's data upload stays float32; per kind: the topology's "
            "payload section).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    seed: Seed = None,
    out: Annotated[
        str | None,  # as typed: click would read an empty path as the working directory
        typer.Option(
            metavar="PATH",
            help="Run directory (default runs/<time>-<name>-<mode>).",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    as_json: Json = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Join this Ray cluster (host:port or auto) instead of a local one.",
            rich_help_panel=RUNTIME,
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="Show Ray's and Flower's logging too.", rich_help_panel=OUTPUT
        ),
    ] = False,
    per_monitor: Annotated[
        bool,
        typer.Option(
            "--per-monitor",
            help="Also print each monitor's detection beside the control rows on its windows.",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            metavar="PORT",
            help="Serve live Prometheus metrics on this port.",
            rich_help_panel=RUNTIME,
        ),
    ] = None,
    metrics_host: Annotated[
        str | None,
        typer.Option(
            help="Address the metrics endpoint binds to (with --metrics-port).",
            show_default=METRICS_HOST,
            rich_help_panel=RUNTIME,
        ),
    ] = None,
    metrics_linger: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=86400,
            metavar="SECONDS",
            help="Seconds the metrics endpoint stays up after the run, for a last scrape of "
            "the detection metrics (with --metrics-port; Ctrl-C ends it early).",
            show_default=str(METRICS_LINGER),
            rich_help_panel=RUNTIME,
        ),
    ] = None,
) -> None:
    """Train across the tiers, detect on every monitor, and report costs and detection."""
    if out == "":  # an unset shell variable, most likely: never the working directory
        raise InputError("--out: an empty path; give the run directory")
    if per_monitor and as_json:  # the JSON already holds what the table shows
        raise InputError(
            "--per-monitor prints a table, which --json does not; the JSON holds each "
            "monitor's figures (detection.per_monitor)"
        )
    if metrics_port is None:  # the endpoint's other options would be ignored
        for option, value in (
            ("--metrics-host", metrics_host),
            ("--metrics-linger", metrics_linger),
        ):
            if value is not None:
                raise InputError(f"{option}: applies with --metrics-port, which serves the metrics")
    # Ray, Flower and PyTorch load only for this command, so the others start fast.
    from fedanomaly.runs.directory import LOG, default_run_dir
    from fedanomaly.runs.live import LiveMetrics
    from fedanomaly.simulation import RunFailedError, prepare_run
    from fedanomaly.simulation import simulate as run_simulation

    settings, flags = option_settings(
        {
            "mode": ("--mode", mode),
            "model.name": ("--model", model),
            "model.iterations": ("--iterations", iterations),
            "model.batch_size": ("--batch-size", batch_size),
            "model.critic_iterations": ("--critic-iters", critic_iters),
            "model.local_iterations": ("--local-iters", local_iters),
            "model.slice_iterations": ("--slice-iters", slice_iters),
            "evaluation.threshold": ("--threshold", threshold),
            "model.reconstruction_score": ("--score", score),
            "model.metric_pooling": ("--pooling", pooling),
            "model.level_stretch": ("--level-stretch", level_stretch),
            "model.fine_tune_iterations": ("--fine-tune", fine_tune),
            "payload.feedback": ("--precision", precision),
            "payload.generated": ("--precision", precision),
            "payload.models": ("--precision", precision),
            "seed": ("--seed", seed),
            **injection_options(inject, rate, intensity),
        }
    )
    source = parse_source(data) if data is not None else None
    chosen = resolve_topology(topology, slices, monitors, source, settings, flags)
    run_dir = Path(out) if out is not None else default_run_dir(chosen)
    prepared = prepare_run(chosen, run_dir, ray_address)
    live = None
    if metrics_port is not None:
        host = METRICS_HOST if metrics_host is None else metrics_host
        live = LiveMetrics(chosen, metrics_port, host)
    if live is not None:  # the port too, which the system picks for --metrics-port 0
        errors.print(f"metrics: {live.url}", markup=False, highlight=False, soft_wrap=True)
    summary = None
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
        except KeyboardInterrupt:
            done, total = int(progress.tasks[0].completed), chosen.model.training_iterations
            note = f"interrupted (Ctrl-C) after {done} of {total} iterations"
            with (run_dir / LOG).open("a") as log:
                log.write(f"fedanomaly: {note}\n")
            progress.stop()
            errors.print(
                f"{note}; run directory kept: {run_dir} (remove it to run there again)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            # The Ray session is shut down by now, but Flower's server thread may still wait in
            # a ray.get that the shutdown does not wake, and Python would wait for that thread
            # forever at exit: leave at once.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        finally:
            if live is not None and summary is None:  # the run failed: nothing more to scrape
                live.close()
    if as_json:
        print(json.dumps(summary, indent=2), flush=True)
    else:
        show(summary_tables(summary))
        if per_monitor:
            show(per_monitor_table(summary))
        console.print(f"run directory: {run_dir}")
    if live is not None:
        linger(live, METRICS_LINGER if metrics_linger is None else metrics_linger)


def linger(live: LiveMetrics, seconds: float) -> None:
    """Keep the metrics endpoint up ``seconds`` after the run, so that a scraper sees the
    detection metrics, which are set only once the run has ended; Ctrl-C ends the wait.

    Parameters
    ----------
    live
        The run's endpoint; closed on return.
    seconds
        How long to wait (0: close at once).
    """
    try:
        if seconds > 0:
            errors.print(
                f"metrics: serving the final figures at {live.url} for {seconds:g} s "
                "(--metrics-linger; Ctrl-C ends it)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            time.sleep(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        live.close()


def loss_text(latest: dict[str, Any]) -> str:
    """The latest losses for the progress bar: ``D -4.433  EG +4.899`` or ``MSE 0.0123``."""
    if "loss" in latest:
        return f"MSE {latest['loss']:.4f}"
    return f"D {latest['critic_loss']:+.3f}  EG {latest['eg_loss']:+.3f}"
