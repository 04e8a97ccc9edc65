"""Shared by the reproduction scripts of seed 002's tables and figures: cached runs on one Ray
cluster, the paper's published numbers, and the CSV, PNG and console table each script writes.

A run is kept under ``<results>/runs/<mode>-<model>-I<iterations>-seed<seed>``; a script that
needs a run another script already made reads it instead of training again, as long as the
run's ``config.yaml`` is the topology the settings resolve to now (a changed default or
topology file retrains it; ``--fresh`` retrains in any case).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fedanomaly.config import resolve_topology
from fedanomaly.config.loading import parse_source
from fedanomaly.config.schema import PAPER_002_TYPES, Topology
from fedanomaly.runs.cluster import local_ray_cluster
from fedanomaly.runs.directory import CONFIG, SUMMARY, config_text
from fedanomaly.simulation import simulate

MODES = ("centralized", "standalone", "distributed", "federated")
TYPES = PAPER_002_TYPES
TOPOLOGY = Path(__file__).resolve().parents[1] / "topologies" / "paper.yaml"

# Tables 2-5 of seed 002: per anomaly type, per mode, accuracy / precision / recall / F1.
PAPER_TABLES: dict[str, dict[str, dict[str, float]]] = {
    "cpu_endless_loop": {
        "centralized": {"accuracy": 0.9842, "precision": 0.9833, "recall": 0.9848, "f1": 0.9841},
        "standalone": {"accuracy": 0.9554, "precision": 0.9549, "recall": 0.9549, "f1": 0.9549},
        "distributed": {"accuracy": 0.9651, "precision": 0.9650, "recall": 0.9645, "f1": 0.9648},
        "federated": {"accuracy": 0.9740, "precision": 0.9710, "recall": 0.9774, "f1": 0.9742},
    },
    "memory_leak": {
        "centralized": {"accuracy": 0.9860, "precision": 0.9769, "recall": 0.9892, "f1": 0.9853},
        "standalone": {"accuracy": 0.9557, "precision": 0.9563, "recall": 0.9590, "f1": 0.9560},
        "distributed": {"accuracy": 0.9673, "precision": 0.9664, "recall": 0.9683, "f1": 0.9674},
        "federated": {"accuracy": 0.9743, "precision": 0.9702, "recall": 0.9783, "f1": 0.9742},
    },
    "disk_io_fault": {
        "centralized": {"accuracy": 0.9874, "precision": 0.9835, "recall": 0.9916, "f1": 0.9873},
        "standalone": {"accuracy": 0.9559, "precision": 0.9544, "recall": 0.9570, "f1": 0.9557},
        "distributed": {"accuracy": 0.9667, "precision": 0.9654, "recall": 0.9672, "f1": 0.9662},
        "federated": {"accuracy": 0.9740, "precision": 0.9718, "recall": 0.9754, "f1": 0.9736},
    },
    "network_congestion": {
        "centralized": {"accuracy": 0.9726, "precision": 0.9713, "recall": 0.9735, "f1": 0.9726},
        "standalone": {"accuracy": 0.9540, "precision": 0.9501, "recall": 0.9582, "f1": 0.9542},
        "distributed": {"accuracy": 0.9635, "precision": 0.9609, "recall": 0.9659, "f1": 0.9634},
        "federated": {"accuracy": 0.9740, "precision": 0.9698, "recall": 0.9754, "f1": 0.9736},
    },
}


def arguments(description: str) -> argparse.ArgumentParser:
    """The options every reproduction script takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--results", type=Path, default=Path("simulations/results"))
    parser.add_argument("--data", default=None, help="data source, e.g. bitbrains:PATH")
    parser.add_argument(
        "--iterations", type=int, default=None, help="I of every run (default: the topology's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="retrain runs already in results")
    parser.add_argument("--topology", type=Path, default=TOPOLOGY, help="topology file")
    return parser


class Runs:
    """Runs of ``topologies/paper.yaml`` (or ``--topology``) on one shared Ray cluster, cached
    in ``results``."""

    def __init__(self, options: argparse.Namespace, address: str) -> None:
        self.options = options
        self.address = address

    def path(self, mode: str, model: str, iterations: int, tag: str = "") -> Path:
        """Where the run of these settings lives."""
        source = (self.options.data or "synthetic-vnf").split(":")[0]
        layout = "" if self.options.topology == TOPOLOGY else f"{self.options.topology.stem}-"
        name = f"{layout}{source}-{mode}-{model}-I{iterations}{tag}-seed{self.options.seed}"
        return self.options.results / "runs" / name

    def summary(
        self,
        mode: str,
        model: str = "biwgan-gp",
        iterations: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[Path, dict[str, Any]]:
        """The run directory and summary of one setting, training it if needed.

        ``extra`` holds further dotted settings (``{"data.injection.intensity": 3.0}``); they
        name the run directory too.
        """
        iterations = iterations or self.options.iterations
        extra = extra or {}
        tag = "".join(
            f"-{key.rsplit('.', 1)[-1]}{'+'.join(value) if isinstance(value, list) else value}"
            for key, value in extra.items()
        )
        settings = {
            "mode": mode,
            "seed": self.options.seed,
            "model.name": model,
            **({"model.iterations": iterations} if iterations else {}),
            **extra,
        }
        source = parse_source(self.options.data) if self.options.data else None
        topology = resolve_topology(self.options.topology, source=source, settings=settings)
        path = self.path(mode, model, topology.model.iterations, tag)
        if not self.options.fresh and kept_run_matches(path, topology):
            return path, json.loads((path / "summary.json").read_text())
        shutil.rmtree(path, ignore_errors=True)
        print(f"training {path.name} ...", flush=True)
        return path, simulate(topology, path, self.address)


def kept_run_matches(path: Path, topology: Topology) -> bool:
    """Whether ``path`` holds a finished run of exactly ``topology``: a ``summary.json``, and a
    ``config.yaml`` with the text the run directory would write for ``topology`` now."""
    summary, config = path / SUMMARY, path / CONFIG
    return summary.exists() and config.exists() and config.read_text() == config_text(topology)


@contextmanager
def shared_runs(options: argparse.Namespace) -> Iterator[Runs]:
    """Runs that all join one local Ray cluster."""
    options.results.mkdir(parents=True, exist_ok=True)
    with local_ray_cluster() as address:
        yield Runs(options, address)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows with the same keys as a CSV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    """Rows as a console table, floats with three decimals (two significant digits below
    0.01, so that learning rates stay readable)."""
    table = Table(*rows[0], title=title)
    for row in rows:
        table.add_row(*(cell(v) for v in row.values()))
    Console(width=160).print(table)


def cell(value: Any) -> str:
    """A table cell: floats with three decimals, or two significant digits below 0.01."""
    if not isinstance(value, float):
        return str(value)
    return f"{value:.2g}" if 0 < abs(value) < 0.01 else f"{value:.3f}"


def save_and_print(figure: Any, path: Path, title: str, rows: list[dict[str, Any]]) -> None:
    """Lay out and save a matplotlib figure, then print the rows it shows as a table."""
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print_table(title, rows)
