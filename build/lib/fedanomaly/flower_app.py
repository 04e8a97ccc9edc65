"""The run as a Flower App, for ``flwr run .`` (Flower's own runtime) instead of
``fedanomaly simulate`` (which starts Flower's simulation engine itself).

``pyproject.toml`` names the two components: ``server_app`` (the controller: it prepares the
data, deploys the Ray actors, runs FedAvg on the grid Flower hands it, detects, and writes the
run directory, the same pipeline as :func:`fedanomaly.simulation.simulate`) and ``client_app``
(the slice nodes, :data:`fedanomaly.tiers.controller.slice_app`). The run config
(``[tool.flwr.app.config]``, ``flwr run . --run-config "iterations=20 out='/tmp/x'"``) picks the
topology; empty strings keep the topology's own values, and so do zeros for the sizes
(``iterations``, ``slices``, ...) and negative numbers for ``seed``, ``fine-tune`` and
``level-stretch``, where 0 is a value of its own.

Under Flower's local simulation runtime the ServerApp's main runs in a thread of the
``flwr-simulation`` process, whose main thread runs the simulation engine: that engine starts
the Ray session for its ClientApp actors, and the ServerApp waits for it, deploys the
monitors and slice managers in it, and passes its namespace to the ClientApps, which reach
their slice's actor by name. The federation needs one SuperNode per slice
(``--federation-config "num-supernodes=3"``).
"""

from __future__ import annotations

import os
import time
from logging import INFO
from pathlib import Path
from typing import Any

# Loaded (for the ClientApp) by the simulation engine's thread before it starts Ray: its
# ray.init() would otherwise join the cluster a `ray start` left in /tmp/ray, even a stale one.
os.environ.setdefault("RAY_ADDRESS", "local")

import ray
from flwr.app import Context
from flwr.common.logger import log
from flwr.serverapp import Grid, ServerApp

from fedanomaly.config.loading import parse_source
from fedanomaly.config.overrides import resolve_topology
from fedanomaly.config.schema import Topology
from fedanomaly.errors import InputError
from fedanomaly.runs.directory import default_run_dir
from fedanomaly.simulation import prepare_run, simulate
from fedanomaly.tiers.controller import slice_app

RAY_WAIT_SECONDS = 300.0
APP_DIR = Path(__file__).resolve().parents[1]  # where Flower unpacked the FAB

client_app = slice_app

#: Each run-config key and the topology settings (dotted paths) it sets.
RUN_CONFIG_SETTINGS: dict[str, tuple[str, ...]] = {
    "mode": ("mode",),
    "model": ("model.name",),
    "iterations": ("model.iterations",),
    "local-iterations": ("model.local_iterations",),
    "slice-iterations": ("model.slice_iterations",),
    "batch-size": ("model.batch_size",),
    "critic-iterations": ("model.critic_iterations",),
    "score": ("model.reconstruction_score",),
    "pooling": ("model.metric_pooling",),
    "level-stretch": ("model.level_stretch",),
    "fine-tune": ("model.fine_tune_iterations",),
    "threshold": ("evaluation.threshold",),
    "precision": ("payload.feedback", "payload.generated", "payload.models"),
    "data-length": ("data.source.length",),
    "seed": ("seed",),
}
#: Keys for which 0 is a value, so that a negative value keeps the topology's (elsewhere "" and
#: 0 do), and the type their value takes.
ZERO_IS_A_VALUE: dict[str, type[int] | type[float]] = {
    "fine-tune": int,
    "seed": int,
    "level-stretch": float,
}


def run_config_setting(key: str, value: Any) -> Any:
    """A run-config value as a setting, or None (also for a missing key) to keep the topology's.

    Parameters
    ----------
    key
        A key of :data:`RUN_CONFIG_SETTINGS`.
    value
        Its value in the run config; ``None`` where the run config lacks it.

    Returns
    -------
    Any
        For a key of :data:`ZERO_IS_A_VALUE`, the value converted to that key's type, or
        ``None`` where it is negative; for any other key the value as given, or ``None`` where
        it is empty or zero.

    Raises
    ------
    InputError
        For a key that takes a number and a value that is not one (for an integer key also a
        fraction such as 1.5, or a boolean).
    """
    if value is None:
        return None
    if key in ZERO_IS_A_VALUE:
        kind = ZERO_IS_A_VALUE[key]
        try:
            number = kind(value)
            if isinstance(value, bool) or number != float(value):  # 1.5 is not the int 1
                raise ValueError(value)
        except (TypeError, ValueError):
            raise InputError(
                f"run config '{key}': expected a number ({kind.__name__}), got {value!r}"
            ) from None
        return None if number < 0 else number
    return value or None


server_app = ServerApp()


def topology_from(config: dict[str, Any]) -> Topology:
    """The topology the run config names: ``topology`` (a YAML path; relative to the working
    directory or to the app), else the ``data`` source's own layout (a source as ``--data``
    takes it; SMD: one slice per machine group), else the paper's 3 slices x 9 monitors, with
    the run config's settings laid over it.

    Raises
    ------
    InputError
        For a bad file, source or setting; a rejected setting is named by its run-config key.
    """
    path = str(config.get("topology", "") or "")
    file = None
    if path:
        file = Path(path).expanduser()
        if not file.is_absolute() and not file.exists():
            file = APP_DIR / file
    slices = int(config.get("slices", 0) or 0) or None
    monitors = int(config.get("monitors", 0) or 0) or None
    data = str(config.get("data", "") or "")
    if file is None and slices is None and monitors is None and not data:
        slices, monitors = 3, 9
    settings: dict[str, Any] = {}
    given: dict[str, str] = {}  # the key behind each setting, named in errors
    for key, paths in RUN_CONFIG_SETTINGS.items():
        value = run_config_setting(key, config.get(key))
        if value is not None:
            settings.update(dict.fromkeys(paths, value))
            given.update(dict.fromkeys(paths, f"run config '{key}'"))
    source = parse_source(data) if data else None
    return resolve_topology(file, slices, monitors, source, settings, given)


def wait_for_ray(timeout: float = RAY_WAIT_SECONDS) -> None:
    """Wait until the simulation engine (another thread of this process) has started Ray."""
    deadline = time.monotonic() + timeout
    while not ray.is_initialized():
        if time.monotonic() > deadline:
            raise InputError(f"Flower's simulation engine started no Ray session in {timeout} s")
        time.sleep(0.2)


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """One run on Flower's runtime; the run directory as ``fedanomaly simulate`` writes it.

    Parameters
    ----------
    grid
        Flower's grid of the federation's SuperNodes; in federated mode FedAvg runs on it, one
        SuperNode per slice.
    context
        Flower's context: its run config picks the topology (:func:`topology_from`) and the
        run directory (``out``; empty: :func:`~fedanomaly.runs.directory.default_run_dir`).

    Raises
    ------
    InputError
        For a bad run config, topology or data, a run directory that holds an earlier run or
        cannot be written, no Ray session within :data:`RAY_WAIT_SECONDS`, or in federated
        mode a number of SuperNodes other than the topology's slices.
    RunFailedError
        If training stopped (a diverged monitor, a node out of memory); the run directory
        keeps what was written.
    """
    config = dict(context.run_config)
    topology = topology_from(config)
    given = str(config.get("out", "") or "")
    out = (Path(given).expanduser() if given else default_run_dir(topology)).resolve()
    log(INFO, "fedanomaly: %s, %s %s, run directory %s", topology.name, topology.mode,
        topology.model.name, out)  # fmt: skip
    monitors = prepare_run(topology, out)  # data while the engine starts Ray
    wait_for_ray()
    nodes = len(list(grid.get_node_ids()))
    if topology.mode == "federated" and nodes != len(topology.slices):
        raise InputError(
            f"the federation has {nodes} SuperNodes but topology {topology.name} has "
            f"{len(topology.slices)} slices: flwr run . --federation-config "
            f'"num-supernodes={len(topology.slices)}"'
        )
    total = topology.model.training_iterations

    def on_progress(done: int, latest: dict[str, Any]) -> None:
        """Log the progress of training to Flower's log.

        Parameters
        ----------
        done
            Iterations done so far.
        latest
            The latest iteration's losses, each the mean over the groups, and ``bytes``: the
            bytes sent so far.
        """
        losses = "  ".join(f"{k} {v:.4g}" for k, v in latest.items() if k != "bytes")
        log(INFO, "fedanomaly: iteration %d/%d  %s  %d bytes", done, total, losses,
            latest["bytes"])  # fmt: skip

    summary = simulate(
        topology, out, verbose=True, on_progress=on_progress, monitors=monitors, grid=grid
    )
    log(INFO, "fedanomaly: done in %.1f s; %s", summary.get("wall_seconds", float("nan")),
        out / "summary.json")  # fmt: skip
