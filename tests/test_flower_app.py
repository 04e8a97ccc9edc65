"""``flwr run .``: the project as a Flower App on Flower's own local simulation runtime."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fedanomaly.errors import InputError
from fedanomaly.flower_app import topology_from
from fedanomaly.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]
FLWR = Path(sys.executable).with_name("flwr")  # the CLI of the environment running the tests


def test_the_run_config_defaults_to_the_papers_topology():
    topology = topology_from({"topology": "", "iterations": 0, "seed": -1})
    assert (topology.mode, topology.model.name) == ("federated", "biwgan-gp")
    assert [len(s.monitors) for s in topology.slices] == [3, 3, 3]


def test_the_run_config_overrides_a_topology_file_named_relative_to_the_app():
    topology = topology_from(
        {"topology": "topologies/small.yaml", "iterations": 20, "local-iterations": 5, "seed": 3}
    )
    assert topology.name == "small"
    assert (topology.model.iterations, topology.model.local_iterations, topology.seed) == (20, 5, 3)


def test_the_run_config_sets_the_score_fine_tuning_and_data_source():
    topology = topology_from(
        {
            "model": "attae",
            "score": "robust",
            "fine-tune": 7,
            "critic-iterations": 0,
            "threshold": "sigma",
            "precision": "float16",
            "data": "synthetic-vnf?length=1500",
            "seed": -1,
        }
    )
    model = topology.model
    assert (model.name, model.reconstruction_score, model.fine_tune_iterations) == (
        "attae",
        "robust",
        7,
    )
    assert topology.evaluation.threshold == "sigma"
    assert topology.payload.models == topology.payload.feedback == "float16"
    assert topology.data.source.length == 1500
    # fine-tune -1 (the default) keeps the topology's value
    assert topology_from({"model": "attae", "fine-tune": -1}).model.fine_tune_iterations == 0


def test_the_run_config_sets_the_metric_pooling():
    assert topology_from({"pooling": "max"}).model.metric_pooling == "max"
    assert topology_from({"pooling": ""}).model.metric_pooling == "mahalanobis"
    with pytest.raises(InputError, match=r"^run config 'pooling': model.metric_pooling"):
        topology_from({"model": "attae", "pooling": "max"})


def test_the_run_config_sets_the_level_stretch_and_zero_turns_it_off():
    default = topology_from({}).model.level_stretch
    assert topology_from({"level-stretch": -1.0}).model.level_stretch == default > 0
    assert topology_from({"level-stretch": 0.0}).model.level_stretch == 0
    assert topology_from({"level-stretch": 1.25}).model.level_stretch == 1.25
    with pytest.raises(InputError, match=r"^run config 'level-stretch': expected a number"):
        topology_from({"level-stretch": "lots"})
    with pytest.raises(InputError, match=r"^run config 'level-stretch': model.level_stretch"):
        topology_from({"model": "attae", "level-stretch": 0.5})


@pytest.mark.parametrize("value", [1.5, True, "2.5", "many"])
def test_an_integer_run_config_key_refuses_what_is_not_an_integer(value):
    with pytest.raises(InputError, match=r"^run config 'seed': expected a number \(int\), got"):
        topology_from({"seed": value})


def test_an_integer_run_config_key_takes_a_whole_float():
    assert topology_from({"seed": 7.0}).seed == 7


def test_a_data_source_alone_gives_its_own_layout_as_simulate_data_does(smd_dir):
    topology = topology_from({"data": f"smd:{smd_dir}", "model": "attae"})
    assert [s.name for s in topology.slices] == ["group-1", "group-2", "group-3"]
    assert sum(len(s.monitors) for s in topology.slices) == 19
    assert topology.data.source.type == "smd"


def test_a_rejected_run_config_value_is_named_by_its_key():
    with pytest.raises(InputError, match=r"^run config 'score': model.reconstruction_score"):
        topology_from({"model": "attae", "score": "huber"})
    with pytest.raises(InputError, match=r"^run config 'fine-tune'.*critic"):
        topology_from({"fine-tune": 5})  # biwgan-gp's monitors hold only a critic


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def superlink_pids(home: Path) -> list[int]:
    """The local SuperLink that ``flwr run`` started for this FLWR_HOME (its log file is
    under it), found by its own command line."""
    marker = str(home / "local-superlink")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "flower-superlink" in cmdline and marker in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not FLWR.exists(), reason=f"no flwr CLI beside {sys.executable}")
def test_flwr_run_trains_detects_and_writes_the_run_directory(tmp_path, ray_address):
    # the one test with a Ray session of its own: Flower's simulation engine starts it
    home, out = tmp_path / "flwr-home", tmp_path / "run"
    topology = tmp_path / "tiny.yaml"
    topology.write_text(
        "name: tiny\nmode: federated\n"
        "placement: {slices_per_node: 2}\n"
        "model: {iterations: 2, local_iterations: 1, batch_size: 8}\n"
        "data: {source: {type: synthetic-vnf, length: 600}}\n"
        "slices:\n"
        "  - {name: a, monitors: [{name: a-1}]}\n"
        "  - {name: b, monitors: [{name: b-1}]}\n"
    )
    env = {
        **os.environ,
        "FLWR_HOME": str(home),  # its own config.toml, SuperLink state and unpacked FAB
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",  # no uv sync of the deps
        "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": str(free_port()),
        "FLWR_LOCAL_CONTROL_API_PORT": str(free_port()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [
        str(FLWR), "run", str(ROOT),
        "--run-config", f"topology='{topology}' out='{out}'",
        "--federation-config", "num-supernodes=2",
        "--stream",  # returns when the run ends
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert (out / "summary.json").exists(), done.stdout[-4000:] + done.stderr[-2000:]
    finally:
        for pid in superlink_pids(home):  # its SuperExec and simulation follow it
            os.kill(pid, signal.SIGTERM)
        time.sleep(1)
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["mode"], summary["fedavg_rounds"], summary["iterations"]) == ("federated", 2, 2)
    assert "fedanomaly: done" in done.stdout
    # Flower's own runtime trains and detects as `fedanomaly simulate` does: the same bytes on
    # every link, the same losses and the same detection figures, monitor by monitor
    direct = simulate(topology_from({"topology": str(topology)}), tmp_path / "direct", ray_address)
    assert summary["communication"] == direct["communication"]
    assert summary["detection"] == direct["detection"]
    records = [
        [{k: v for k, v in json.loads(line).items() if k != "compute_seconds"}
         for line in (run / "metrics.jsonl").read_text().splitlines()]
        for run in (out, tmp_path / "direct")
    ]  # fmt: skip
    assert records[0] == records[1]
