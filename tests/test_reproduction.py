"""The reproduction scripts' run cache: a kept run is reused only for the topology it ran."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fedanomaly.config import resolve_topology
from fedanomaly.runs.directory import RunDirectory

SCRIPT = Path(__file__).resolve().parents[1] / "simulations" / "reproduction.py"
PAPER = Path(__file__).resolve().parents[1] / "topologies" / "paper.yaml"


def load_reproduction():
    spec = importlib.util.spec_from_file_location("reproduction", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_kept_run_is_reused_only_for_the_topology_it_ran(tmp_path):
    reproduction = load_reproduction()
    kept = resolve_topology(PAPER, settings={"mode": "federated", "model.iterations": 100})
    run = RunDirectory(tmp_path / "run")
    run.write_config(kept)
    assert not reproduction.kept_run_matches(run.path, kept)  # unfinished: no summary.json
    run.write_summary({"mode": "federated"})
    assert reproduction.kept_run_matches(run.path, kept)
    # the same settings, read again from the file, resolve to the same topology
    again = resolve_topology(PAPER, settings={"mode": "federated", "model.iterations": 100})
    assert reproduction.kept_run_matches(run.path, again)
    # a default that changed since (here T, set explicitly) makes the kept run stale
    longer = resolve_topology(
        PAPER, settings={"mode": "federated", "model.iterations": 100, "model.window_length": 16}
    )
    assert not reproduction.kept_run_matches(run.path, longer)
