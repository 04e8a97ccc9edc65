"""The command line as a user runs it: output, exit codes, files written or not."""

from __future__ import annotations

import http.server
import importlib.metadata
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import click
import numpy as np
import pytest
import ray
import typer
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from fedanomaly.bench.sweeps import expected_payload
from fedanomaly.cli import app, common
from fedanomaly.cli.common import reports_input_errors
from fedanomaly.cli.data import summary_table
from fedanomaly.config import resolve_topology
from fedanomaly.config.loading import load_topology
from fedanomaly.config.schema import ANOMALY_TYPES, ModelConfig, PayloadConfig
from fedanomaly.data.inspection import monitor_summary
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.data.sources.pickle_layout import load_array_pickle
from fedanomaly.errors import InputError
from fedanomaly.runs.directory import RunDirectory, default_run_dir
from tests.conftest import TOPOLOGIES

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_topology_show_paper():
    result = run("topology", "show", TOPOLOGIES / "paper.yaml")
    assert result.exit_code == 0, result.output
    assert "1 controller, 3 slices, 9 monitors" in result.output
    assert result.output.count("monitor vm-") == 9 and "slice slice-3" in result.output


def test_topology_show_balanced_json():
    result = run("topology", "show", "--slices", "2", "--monitors", "5", "--json")
    topology = json.loads(result.output)
    assert [len(s["monitors"]) for s in topology["slices"]] == [3, 2]


def test_topology_validate(tmp_path, smd_dir):
    result = run("topology", "validate", TOPOLOGIES / "large.yaml")
    assert result.exit_code == 0
    assert "1 controller, 30 slices, 1000 monitors" in result.output
    assert "note" not in result.output
    for text, message in [
        ("data: {partition: split, entity: nope, source: {type: smd, path: SMD}}",
         "data.entity: 'nope' is not in smd:"),
        ("data: {source: {type: smd, path: SMD}}\nslices: [{name: g, monitors: [{name: m, "
         "vms: [machine-9-9]}]}]", "slices[0].monitors[0] (m): VM 'machine-9-9' is not in smd:"),
    ]:  # fmt: skip
        path = tmp_path / "t.yaml"
        if "slices" not in text:
            text += "\nslices: [{name: g, monitors: 2}]"
        path.write_text(text.replace("SMD", str(smd_dir)))
        refused = run("topology", "validate", path)
        assert refused.exit_code == 2 and f"{path}: {message}" in refused.output
    pathless = run("topology", "validate", TOPOLOGIES / "smd.yaml")
    assert pathless.exit_code == 0
    assert pathless.output.splitlines()[-1] == (
        "note: data.source (smd) names no path: runs need one, as simulate's --data smd:PATH "
        "or data inspect's SOURCE argument smd:PATH"
    )


def test_validate_names_the_yaml_path_of_a_missing_data_file(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("data: {source: {type: csv, path: no.csv}}\nslices: [{name: g, monitors: 1}]\n")
    result = run("topology", "validate", path)
    assert result.exit_code == 2
    assert f"{path}: data.source: " in result.output and "no.csv: no such file" in result.output


def test_data_inspect_synthetic_json():
    result = run("data", "inspect", "synthetic-vnf", "--slices", "1", "--monitors", "2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    first = report["monitors"][0]
    train, held_out = 24192, 8064  # four weeks of minutes, split 60 / 20 / 20
    assert first["metrics"] == 26 and first["steps"] == {
        "train": train,
        "validation": held_out,
        "test": held_out,
    }
    model = ModelConfig()
    assert first["windows"]["train"] == (train - model.window_length) // model.window_stride + 1
    validation = first["anomalies"]["validation"]
    assert set(validation) <= {
        "cpu_endless_loop",
        "memory_leak",
        "disk_io_fault",
        "network_congestion",
    }
    assert sum(v["steps"] for v in validation.values()) == pytest.approx(0.05 * held_out, abs=2)


def test_data_inspect_options_reach_the_injection():
    result = run(
        "data", "inspect", "synthetic-vnf", "--slices", "1", "--monitors", "1", "--json",
        "--inject", "sudden_spike,resource_jitter", "--rate", "0.1", "--length", "3000",
    )  # fmt: skip
    report = json.loads(result.output)["monitors"][0]
    assert set(report["anomalies"]["test"]) == {"sudden_spike", "resource_jitter"}
    assert sum(v["steps"] for v in report["anomalies"]["test"].values()) == 60  # --rate 0.1
    assert report["steps"]["test"] == 600


def test_data_inspect_takes_the_topology_files_source():
    result = run("data", "inspect", "-t", TOPOLOGIES / "small.yaml", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["monitors"]
    assert [m["monitor"] for m in report][:2] == ["edge-monitor-1", "edge-monitor-2"]
    assert report[0]["steps"] == {"train": 2592, "validation": 864, "test": 864}


def test_data_inspect_smd_tables(smd_dir):
    result = run("data", "inspect", f"smd:{smd_dir}", "--monitor", "machine-1-2")
    assert result.exit_code == 0, result.output
    assert "machine-3-10" in result.output and "labelled" in result.output
    assert "eth1_fi" in result.output  # the per-metric table of the chosen monitor


def test_data_inspect_counts_the_real_labels_of_smd(smd_dir):
    result = run("data", "inspect", f"smd:{smd_dir}", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {m["metrics"] for m in report["monitors"]} == {38}
    steps = events = 0
    for path in sorted(smd_dir.glob("*_test_label.pkl")):
        labels = load_array_pickle(path).astype(bool)
        steps += int(labels.sum())
        events += int((np.diff(np.concatenate([[0], labels, [0]]).astype(int)) == 1).sum())
    assert report["anomalies"]["test"]["labelled"] == {"steps": steps, "events": events}
    assert "labelled" not in report["anomalies"]["validation"]  # injected types there


def test_data_inspect_bitbrains(bitbrains_dir):
    result = run("data", "inspect", f"bitbrains:{bitbrains_dir}", "-s", "2", "-n", "4", "--json")
    assert result.exit_code == 0, result.output
    assert [m["vms"] for m in json.loads(result.output)["monitors"]] == [["1"], ["2"], ["3"], ["4"]]


def test_data_plot_writes_a_png(tmp_path):
    out = tmp_path / "vm.png"
    result = run(
        "data", "plot", "synthetic-vnf", "--monitor", "vm-2-1", "--out", out, "--split", "test"
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 20_000
    assert list(tmp_path.iterdir()) == [out]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "inspect", "tape"], "unknown source type 'tape'"),
        (["data", "inspect", "smd:/no/such"], "/no/such: no such file or folder"),
        (
            ["data", "inspect", "synthetic-vnf", "--inject", "meteor"],
            "--inject: data.injection.types[0]",
        ),
        (
            ["data", "inspect", "-t", str(TOPOLOGIES / "small.yaml"), "--rate", "0.9"],
            "--rate: data.injection.rate",
        ),
        (
            ["data", "inspect", "--seed", "-1"],
            "--seed: seed: Input should be greater than or equal to 0",
        ),
        (["data", "plot", "--monitor", "vm-1-1", "--out", "."], "is a folder"),
        (
            ["data", "inspect", "synthetic-vnf", "--slices", "3"],
            "--slices and --monitors go together",
        ),
        (
            ["data", "inspect", "synthetic-vnf", "--length", "10"],
            "the train part has 6 steps, fewer than one window (model.window_length 8)",
        ),
        (
            ["topology", "show", "--slices", "5", "--monitors", "2"],
            "--monitors (2) must be at least",
        ),
        (["topology", "validate", "missing.yaml"], "missing.yaml: no such topology file"),
        (
            ["data", "plot", "synthetic-vnf", "--monitor", "vm-9", "--out", "x.png"],
            "no monitor 'vm-9'",
        ),
        (
            ["data", "plot", "--monitor", "vm-1-1", "--out", "x.jpg"],
            "--out x.jpg: figures are written as PNG; give a name ending in .png",
        ),
        (
            ["data", "inspect", "--intensity", "inf"],
            "--intensity: data.injection.intensity: Input should be a finite number (got inf)",
        ),
        (["data", "inspect", "synthetic-vnf?noise=inf"], "noise: Input should be a finite number"),
        (
            ["data", "inspect", "--length", "9999999999"],
            "--length: data.source.length: Input should be less than or equal to 5000000",
        ),
        (["topology", "validate", "."], ".: is a folder; give a topology YAML file"),
        (["topology", "show", "--monitors", "3"], "--slices and --monitors go together"),
        (["generate", "--out", "."], "--out .: is a folder; give a file name"),
        (["generate", "--seed", "-3"], "--seed: seed: Input should be greater than or equal to 0"),
        (["report", "nowhere"], "nowhere: no such run directory"),
        (["report", "."], ".: not a run directory (no summary.json, no run.log)"),
        (["report", ".", "..", "--per-monitor"], "--per-monitor: give one run directory"),
        (
            ["report", ".", "--per-monitor", "--json"],
            "--per-monitor prints a table, which --json does not; the run's summary.json holds",
        ),
        (
            ["simulate", "--per-monitor", "--json"],
            "--per-monitor prints a table, which --json does not; the JSON holds each monitor's",
        ),
        (["topology", "validate", "/dev/null"], "/dev/null: not a regular file; give a topology"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # ended through exit code 2, not a crash
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_report_tells_a_file_and_an_unfinished_run_from_a_missing_one(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.log").write_text("stopped\n")
    (tmp_path / "summary.json").write_text("{}")
    for target, message in (
        ("run", "run: no summary.json: the run did not finish (its run.log says why)"),
        ("summary.json", "summary.json: a file; give the run directory that holds it"),
    ):
        result = run("report", str(tmp_path / target))
        assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "summary.json: not readable as JSON (Expecting property name"),
        ("[1, 2]", "summary.json: not a run summary (a JSON object)"),
        (
            '{"mode": "federated"}',
            "summary.json: not a summary this version of fedanomaly writes (missing or "
            "unexpected: 'communication')",
        ),
    ],
)
def test_report_refuses_a_summary_it_cannot_read(text, message, tmp_path):
    (tmp_path / "summary.json").write_text(text)
    result = run("report", tmp_path)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path}") and message in lines[0]


def test_a_missing_output_folder_is_made_when_the_file_is_written(tmp_path):
    """As simulate and bench do; a refused plot leaves no folder behind."""
    out = tmp_path / "new" / "deeper" / "vm.png"
    result = run("data", "plot", "--monitor", "vm-1-1", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")
    refused = tmp_path / "other" / "vm.png"
    result = run("data", "plot", "--monitor", "vm-9-9", "--out", refused)
    assert result.exit_code == 2 and not (tmp_path / "other").exists()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["simulate", "--slices", "x"],
            "error: Invalid value for '--slices' / '-s': 'x' is not a valid integer. "
            "(see 'fedanomaly simulate --help')",
        ),
        (
            ["simulat"],
            "error: No such command 'simulat'. Did you mean 'simulate'? (see 'fedanomaly --help')",
        ),
        (
            ["generate", "--count", "0"],
            "error: Invalid value for '--count': 0 is not in the range 1<=x<=1000000. "
            "(see 'fedanomaly generate --help')",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, line, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "fedanomaly", *args],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [line] and done.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--slices", "1", "--monitors", "1", "--out", "afile/run"],
        ["bench", "batch", "--sizes", "8", "--out", "afile/bench"],
        ["generate", "--out", "afile/windows.npz"],
    ],
)
def test_an_output_behind_a_file_is_refused_before_any_work(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("mine")
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--out afile/" in lines[0]
    assert "afile" in lines[0] and "is a file" in lines[0]
    assert list(tmp_path.iterdir()) == [tmp_path / "afile"]
    assert (tmp_path / "afile").read_text() == "mine"


def test_console_script_error_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("slices: [{name: s, monitors: [{name: m}]}]\nmodel: {batch_size: 0}\n")
    done = subprocess.run(
        [sys.executable, "-m", "fedanomaly", "topology", "validate", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {bad}: model.batch_size: Input should be greater than 0 (got 0)"
    ]
    assert done.stdout == ""


def test_simulate_from_the_command_line(ray_address, tmp_path):
    out = tmp_path / "run"
    result = run(
        "simulate", "--slices", "2", "--monitors", "2", "--iterations", "4", "--local-iters", "2",
        "--batch-size", "8", "--critic-iters", "1", "--mode", "distributed", "--seed", "5",
        "--data", "synthetic-vnf?length=1440", "--ray-address", ray_address, "--out", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    assert (summary["mode"], summary["iterations"], summary["seed"]) == ("distributed", 4, 5)
    assert summary["topology"]["monitors"] == 2
    config = (out / "config.yaml").read_text()
    assert "critic_iterations: 1" in config and "length: 1440" in config


def test_inject_chooses_the_types_a_csv_of_cpu_and_memory_can_take(ray_address, tmp_path):
    rng = np.random.default_rng(0)
    rows = "".join(
        f"{minute * 60},{20 + rng.normal():.3f},{50 + rng.normal():.3f}\n" for minute in range(3000)
    )
    (tmp_path / "vm.csv").write_text("timestamp,cpu,mem\n" + rows)
    data = f"csv:{tmp_path / 'vm.csv'}?column_groups=cpu:cpu;memory:mem"
    common = ("--data", data, "--slices", "1", "--monitors", "1", "--iterations", "2",
              "--batch-size", "8", "--critic-iters", "1", "--ray-address", ray_address)  # fmt: skip
    refused = run("simulate", *common, "--out", tmp_path / "refused")
    assert refused.exit_code == 2
    assert "acts on disk metrics and the data has none" in refused.output
    assert "or --inject in simulate, generate and the data commands)" in " ".join(
        refused.output.split()
    )
    assert not (tmp_path / "refused").exists()
    out = tmp_path / "run"
    result = run(
        "simulate", *common, "--inject", "cpu_endless_loop,memory_leak", "--rate", "0.1",
        "--intensity", "2", "--out", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary["detection"]["by_type"]) == {"cpu_endless_loop", "memory_leak"}
    injection = load_topology(out / "config.yaml").data.injection
    assert (injection.types, injection.rate, injection.intensity) == (
        ["cpu_endless_loop", "memory_leak"], 0.1, 2.0,
    )  # fmt: skip
    generated = tmp_path / "g.npz"
    made = run(
        "generate", "--data", data, "--slices", "1", "--monitors", "1", "--iterations", "2",
        "--batch-size", "8", "--inject", "cpu_endless_loop", "--type", "memory_leak",
        "--count", "5", "--out", generated,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert np.load(generated)["windows"].shape == (5, 8, 2)


def test_precision_and_level_stretch_reach_the_run(ray_address, tmp_path):
    out = tmp_path / "run"
    result = run(
        "simulate", "--slices", "1", "--monitors", "2", "--iterations", "2", "--batch-size", "8",
        "--critic-iters", "1", "--mode", "distributed", "--data", "synthetic-vnf?length=1440",
        "--precision", "float16", "--level-stretch", "0", "--ray-address", ray_address,
        "--out", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    topology = load_topology(out / "config.yaml")
    assert topology.payload.model_dump() == dict.fromkeys(
        ("feedback", "generated", "models"), "float16"
    )
    assert topology.model.level_stretch == 0
    # the metered bytes are the closed form at half precision, and half the float32 one's
    # floats: M * T * d window values and M * T * d + M * l feedback values per message
    monitors = [m.for_training() for m in prepare_monitors(topology)]
    expected = expected_payload(topology, monitors)["monitor_slice"]
    sent = summary["communication"]["monitor_slice"]
    assert [sent["up_payload_bytes"], sent["down_payload_bytes"]] == expected
    full = expected_payload(topology.model_copy(update={"payload": PayloadConfig()}), monitors)
    assert full["monitor_slice"][0] > 1.9 * expected[0]


def test_version_and_the_anomaly_types():
    result = run("version")
    assert result.exit_code == 0
    assert result.output.split() == ["fedanomaly", importlib.metadata.version("fedanomaly")]
    listed = run("data", "types")
    assert listed.exit_code == 0
    rows = [line.split()[1] for line in listed.output.splitlines() if line.split()[1:2]]
    assert [name for name in rows if name in ANOMALY_TYPES] == list(ANOMALY_TYPES)
    assert "Parameters" not in listed.output  # each shape's summary, not its whole docstring


def test_simulate_prints_each_monitor_beside_the_controls(ray_address, tmp_path):
    out = tmp_path / "run"
    result = run(
        "simulate", "--slices", "1", "--monitors", "2", "--iterations", "4", "--batch-size", "8",
        "--critic-iters", "1", "--data", "synthetic-vnf?length=1440", "--ray-address", ray_address,
        "--out", out, "--per-monitor",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    detection = json.loads((out / "summary.json").read_text())["detection"]
    rows = {words[0]: words[1:] for words in map(str.split, result.output.splitlines()) if words}
    figures = [("mean", detection["overall"], detection["controls"])] + [
        (name, entry, entry["controls"]) for name, entry in detection["per_monitor"].items()
    ]
    for name, model, controls in figures:
        expected = [f"{model[k]:.3f}" for k in ("vus_pr", "auc_pr", "f1", "f1_oracle")]
        for control in detection["controls"]:  # marked where above the model, piped or not
            value = controls[control]["vus_pr"]
            expected.append(f"{value:.3f}" + ("*" if value > model["vus_pr"] else ""))
        assert rows[name] == expected
    # the saved run shows the same tables again, and beside another run
    shown = run("report", out, "--per-monitor")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == result.stdout.removesuffix(f"run directory: {out}\n")
    other = tmp_path / "other"
    shutil.copytree(out, other)
    summary = json.loads((other / "summary.json").read_text())
    summary["communication"]["slice_controller"]["up_bytes"] += 1000
    summary["detection"]["beats_controls"] = {"random": True, "pca": False, "zscore": None}
    (other / "summary.json").write_text(json.dumps(summary))
    listed = run("report", out, other, "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [row["run"] for row in rows] == [str(out), str(other)]
    for row, path in zip(rows, (out, other), strict=True):
        saved = json.loads((path / "summary.json").read_text())
        links = saved["communication"]
        assert row["bytes"] == sum(e["up_bytes"] + e["down_bytes"] for e in links.values())
        assert row["slice_controller_bytes"] == (
            links["slice_controller"]["up_bytes"] + links["slice_controller"]["down_bytes"]
        )
        assert row["f1"] == saved["detection"]["overall"]["f1"]
        assert row["vus_pr"] == saved["detection"]["overall"]["vus_pr"]
    assert rows[1]["bytes"] == rows[0]["bytes"] + 1000
    assert (rows[1]["controls_beaten"], rows[1]["controls"]) == (1, 2)
    table = run("report", out, other)
    assert table.exit_code == 0, table.output
    assert "1 of 2" in table.stdout and f"{rows[0]['vus_pr']:.3f}" in table.stdout
    summary["detection"]["beats_controls"] = {"random": None, "pca": None}  # no figures
    (other / "summary.json").write_text(json.dumps(summary))
    shown = run("report", out, other).stdout.splitlines()
    assert next(line for line in shown if "controls beaten" in line).split()[-1] == "n/a"
    # a figure of the wrong kind in one of them is named by its file
    summary["detection"]["overall"]["f1"] = "x"
    (other / "summary.json").write_text(json.dumps(summary))
    refused = run("report", out, other)
    assert refused.exit_code == 2
    assert refused.output.startswith(f"error: {other / 'summary.json'}: not a summary this version")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "orbital"], "--mode: mode: Input should be 'centralized'"),
        (["--metrics-host", "0.0.0.0"], "--metrics-host: applies with --metrics-port"),
        (["--metrics-linger", "5"], "--metrics-linger: applies with --metrics-port"),
        (["--model", "vae"], "--model: model.name: Input should be 'biwgan-gp'"),
        (
            ["--iterations", "5", "--local-iters", "9"],
            "--local-iters: model.local_iterations: L=9 is larger than iterations I=5",
        ),
        (
            ["--batch-size", "100000"],
            "--batch-size: model.batch_size (M=100000) is larger than monitor vm-1-1's",
        ),
        (["--threshold", "median"], "--threshold: evaluation.threshold: Input should be"),
        (["--score", "mae"], "--score: model.reconstruction_score: Input should be 'mse'"),
        (
            ["--score", "standardized"],
            "--score: model.reconstruction_score: standardized applies to attae and cmsf-attae",
        ),
        (
            ["--score", "robust"],
            "--score: model.reconstruction_score: robust applies to attae and cmsf-attae",
        ),
        (
            ["--pooling", "median"],
            "--pooling: model.metric_pooling: Input should be 'mahalanobis'",
        ),
        (
            ["--model", "attae", "--pooling", "max"],
            "--pooling: model.metric_pooling: metric_pooling max applies to biwgan-gp and its",
        ),
        (
            ["--model", "attae", "--pooling", "mean"],
            "--pooling: applies to biwgan-gp and its baselines; attae scores with",
        ),
        (["--slice-iters", "5"], "--slice-iters: applies to attae and cmsf-attae"),
        (["--iterations", "10000001"], "--iterations: model.iterations: Input should be less"),
        (["--level-stretch", "1e300"], "--level-stretch: model.level_stretch: Input should be"),
        (["--seed", str(2**32)], "--seed: seed: Input should be less than or equal to 4294967295"),
        (
            ["--fine-tune", "5"],
            "--fine-tune: model.fine_tune_iterations: fine-tuning applies to attae and cmsf-attae",
        ),
        (
            ["--model", "attae", "--fine-tune", "10000001"],
            "--fine-tune: model.fine_tune_iterations: Input should be less than or equal to "
            "10000000 (got 10000001)",
        ),
        (
            ["--model", "attae", "--fine-tune", "-1"],
            "--fine-tune: model.fine_tune_iterations: Input should be greater than or equal to 0",
        ),
        (
            ["--ray-address", "127.0.0.1:9"],
            "--ray-address: cannot reach a Ray cluster at 127.0.0.1:9",
        ),
        (["--out", ""], "--out: an empty path; give the run directory"),
        (  # a Ray Client address too: Ray's own client would try for 30 s
            ["--ray-address", "ray://127.0.0.1:9"],
            "--ray-address: cannot reach a Ray cluster at ray://127.0.0.1:9",
        ),
        (
            ["--threshold", "generated"],
            "command line with --threshold: evaluation.threshold: generated needs",
        ),
        (
            ["--out", "/proc/fedanomaly/run"],
            "--out /proc/fedanomaly/run: cannot write in /proc",
        ),
        (
            ["--model", "attae", "--local-iters", "5", "--slice-iters", "10"],
            "command line with --model, --local-iters, --slice-iters: model: slice_iterations "
            "L1=10 is larger than local_iterations L=5",
        ),
    ],
)
def test_simulate_bad_input(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("simulate", "--slices", "1", "--monitors", "1", *args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert list(tmp_path.iterdir()) == []


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with an error status, and logs nothing."""

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test's output to the CLI's own."""


@pytest.fixture
def http_port() -> Iterator[int]:
    """A local port where an HTTP server answers every request with an error (not a Ray head)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_simulate_refuses_an_address_that_answers_but_is_not_ray(http_port, tmp_path, capfd):
    """One line at once, not Ray's warning a second until it gives up; nothing written."""
    out = tmp_path / "run"
    result = run("simulate", "--slices", "1", "--monitors", "1", "--out", out,
                 "--ray-address", f"127.0.0.1:{http_port}")  # fmt: skip
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert f"127.0.0.1:{http_port} answers but is not a Ray cluster's head" in lines[0]
    assert "gcs_client" not in capfd.readouterr().err
    assert not out.exists()


def test_ctrl_c_ends_a_run_at_once_and_says_what_is_kept(ray_address, tmp_path):
    """SIGINT during training: exit 130 within seconds, one line on stderr, and run.log saying
    how far the run got (Flower's server thread, waiting on Ray, must not hold the exit)."""
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "fedanomaly", "simulate", "--slices", "1", "--monitors", "2",
        "--iterations", "100000", "--local-iters", "10", "--data", "synthetic-vnf?length=1440",
        "--ray-address", ray_address, "--out", str(out),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics, deadline = out / "metrics.jsonl", time.monotonic() + 300

    def training() -> bool:  # a FedAvg round is written
        return metrics.exists() and '"round"' in metrics.read_text()

    while not training():
        assert time.monotonic() < deadline, "no FedAvg round within 300 s"
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    last = stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"interrupted \(Ctrl-C\) after \d+ of 100000 iterations; run directory kept: {out} "
        r"\(remove it to run there again\)",
        last,
    ), stderr
    assert (
        (out / "run.log")
        .read_text()
        .splitlines()[-1]
        .startswith("fedanomaly: interrupted (Ctrl-C) after ")
    )
    assert not (out / "summary.json").exists()


def test_a_refused_run_leaves_the_users_own_out_folder_as_it_was(ray_address, tmp_path):
    """A run refused inside the Ray session (a GPU asked of a cluster without one) removes what
    it wrote, and only that: the user's own files in the ``--out`` folder stay."""
    ray.init(address=ray_address)
    gpus = ray.cluster_resources().get("GPU", 0.0)
    ray.shutdown()
    if gpus:
        pytest.skip("the test cluster has a GPU, so device: cuda is not refused")
    topology = tmp_path / "cuda.yaml"
    topology.write_text(
        "device: cuda\ndata: {source: {type: synthetic-vnf, length: 1440}}\n"
        "slices: [{name: s, monitors: [{name: m}]}]\n"
    )
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    result = run("simulate", topology, "--out", out, "--ray-address", ray_address)
    assert result.exit_code == 2, result.output
    assert "device: cuda is set, but the Ray cluster has no GPU" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "kept"


def test_an_out_folder_with_an_earlier_runs_files_is_refused(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    result = run("simulate", "--slices", "1", "--monitors", "1", "--out", out)
    assert result.exit_code == 2, result.output
    assert f"{out}: holds an earlier run" in result.output


def test_default_run_folders_are_apart_to_the_millisecond_and_never_reused(tmp_path, monkeypatch):
    topology = resolve_topology(slices=1, monitors=1)
    monkeypatch.setattr(time, "time", lambda: 1796673672.0425)  # 2026-12-07 20:01:12.042 UTC
    first = default_run_dir(topology, tmp_path)
    assert first.name == "20261207-200112.042-balanced-1x1-federated"
    first.mkdir()
    for number in (2, 3):  # the same millisecond's folder taken: the next number
        again = default_run_dir(topology, tmp_path)
        assert again.name == f"{first.name}-{number}"
        again.mkdir()


def test_two_runs_into_one_folder_never_mix(tmp_path, monkeypatch):
    """The second of two runs that both found the folder free (started side by side) is
    refused as it claims the folder, and leaves the first one's files alone."""
    first = RunDirectory(tmp_path / "run")
    first.append_metrics([{"iteration": 0}])
    monkeypatch.setattr("fedanomaly.runs.directory.check_free", lambda path: None)
    with pytest.raises(InputError, match=r"run: holds an earlier run; choose another --out"):
        RunDirectory(tmp_path / "run")
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == '{"iteration": 0}\n'


def test_a_run_is_not_started_inside_another_runs_folder(tmp_path):
    first = RunDirectory(tmp_path / "run")
    inside = first.path / "checkpoints" / "again"
    with pytest.raises(InputError, match=rf"--out {inside}: lies inside the run directory "):
        RunDirectory(inside)
    assert not inside.exists()


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (MemoryError(), "error: not enough memory for these sizes; try shorter data or fewer"),
        (
            MemoryError("Unable to allocate 74.5 GiB"),
            "error: not enough memory for these sizes (Unable to allocate 74.5 GiB); try",
        ),
    ],
)
def test_sizes_the_machine_cannot_hold_end_in_one_line(error, line, capsys):
    @reports_input_errors
    def command() -> None:
        raise error

    with pytest.raises(typer.Exit) as ended:
        command()
    assert ended.value.exit_code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line)


def test_a_bare_command_prints_its_help_and_nothing_on_stderr(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "fedanomaly"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and done.stderr == ""
    assert "Usage: fedanomaly" in done.stdout and "simulate" in done.stdout


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command's words below ``group``, sub-commands of sub-groups included."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_help_at_80_columns_cuts_nothing():
    """Every command's --help on an 80-column terminal shows each option whole: no cell ends
    in an ellipsis, and every long option name is there."""
    root = typer.main.get_command(app)
    paths = list(command_paths(root))
    assert ("simulate",) in paths and ("bench", "scale") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, (path, result.output)
        assert "…" not in result.output, (path, result.output)
        assert max(len(line) for line in result.output.splitlines()) == 80
        command = root
        for word in path:
            command = command.commands[word]
        for parameter in command.params:
            for name in parameter.opts:
                if name.startswith("--"):
                    assert name in result.output, (path, name)


def test_tables_too_wide_for_the_terminal_keep_every_figure(monkeypatch):
    """data inspect's table on a 60-column terminal: printed at its natural width, no cell cut
    (rich alone would end cells in an ellipsis); one that fits keeps the terminal's width."""
    topology = resolve_topology(slices=1, monitors=2, settings={"data.source.length": 2000})
    model = topology.model
    summaries = [
        monitor_summary(m, model.window_length, model.window_stride)
        for m in prepare_monitors(topology)
    ]
    narrow = Console(width=60, record=True)
    monkeypatch.setattr(common, "console", narrow)
    common.show(summary_table(summaries, model.window_length, model.window_stride))
    text = narrow.export_text()
    steps = "/".join(str(count) for count in summaries[0]["steps"].values())
    assert "…" not in text and steps in text and narrow.width == 60
    small = Table("a", "b")
    small.add_row("1", "2")
    common.show(small)
    assert max(len(line) for line in narrow.export_text().splitlines()) <= 60


def test_an_option_that_sets_several_paths_is_one_mistake():
    """--precision sets three payload kinds: a bad value is one problem, not three."""
    alone = run("simulate", "--precision", "float8")
    assert alone.exit_code == 2
    assert alone.output.strip().endswith("or 'int8' (got 'float8')")
    with_mode = run("simulate", "--precision", "float8", "--mode", "bogus")
    assert with_mode.output.strip().endswith("(got 'bogus') [and 1 more problem]")
