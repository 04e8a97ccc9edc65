"""Live Prometheus metrics: scraped over HTTP during a real run, and a port already in use."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from fedanomaly.cli import app
from fedanomaly.config import resolve_topology
from fedanomaly.runs.live import LiveMetrics
from fedanomaly.simulation import simulate

SMALL = {
    "data.source.length": 1440,
    "model.iterations": 6,
    "model.local_iterations": 2,
    "model.batch_size": 8,
    "model.critic_iterations": 1,
    "model.hidden": {"generator": [8, 8], "encoder": [8, 8], "discriminator": [16, 8]},
    "placement.slices_per_node": 2,  # one Ray actor (one process) for the whole run
}


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of the endpoint, keyed by name and sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_endpoint_follows_the_run(ray_address, tmp_path):
    # adaptive: a threshold that moves from step to step, so the gauge must hold the last one
    settings = {**SMALL, "evaluation.threshold": "adaptive"}
    topology = resolve_topology(slices=2, monitors=3, settings=settings)
    live = LiveMetrics(topology, 0)
    seen = []

    def on_progress(done: int, latest: dict) -> None:
        samples = scrape(live.port)  # over HTTP, while the run goes on
        sent = sum(v for (name, _), v in samples.items() if name == "fedanomaly_bytes_total")
        seen.append((done, samples[("fedanomaly_iteration", ())], sent, latest["bytes"]))

    try:
        summary = simulate(topology, tmp_path / "run", ray_address, on_progress=on_progress,
                           live=live)  # fmt: skip
        final = scrape(live.port)
    finally:
        live.close()
    assert [s[0] for s in seen] == [2, 4, 6]
    for done, iteration, sent, expected in seen:
        assert iteration == done and sent == expected
    assert final[("fedanomaly_fedavg_round", ())] == 3
    up = final[("fedanomaly_bytes_total", (("direction", "up"), ("link", "slice_controller")))]
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    rounds = [r for r in lines if "round" in r]
    assert up == sum(r["up_bytes"] for r in rounds)
    assert final[("fedanomaly_simulated_seconds", ())] > 0
    losses = {labels for name, labels in final if name == "fedanomaly_loss"}
    assert (("group", "slice-1"), ("loss", "critic_loss"), ("tier", "monitor")) in losses
    assert (("group", "slice-1"), ("loss", "reconstruction"), ("tier", "slice_manager")) in losses
    for name in summary["detection"]["per_monitor"]:
        saved = np.load(tmp_path / "run" / f"scores-{name}.npz")
        assert final[("fedanomaly_alarms_total", (("monitor", name),))] == saved["preds"].sum()
        assert final[("fedanomaly_threshold", (("monitor", name),))] == saved["threshold"][-1]
        assert final[("fedanomaly_anomaly_score", (("monitor", name),))] == saved["scores"][-1]


def test_a_port_in_use_is_a_clear_error_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["simulate", "--slices", "1", "--monitors", "1", "--metrics-port", str(port)]
        )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"--metrics-port {port}: cannot serve on 127.0.0.1" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_the_endpoint_stays_up_after_the_run_for_a_last_scrape(ray_address, tmp_path):
    """The detection metrics are set as the run ends: the endpoint (on a port the system picks,
    which simulate prints) stays up for --metrics-linger, and Ctrl-C ends that wait cleanly."""
    command = [
        sys.executable, "-m", "fedanomaly", "simulate", "--slices", "1", "--monitors", "2",
        "--iterations", "4", "--local-iters", "2", "--batch-size", "8", "--critic-iters", "1",
        "--data", "synthetic-vnf?length=1440", "--ray-address", ray_address,
        "--out", str(tmp_path / "run"), "--json", "--metrics-port", "0", "--metrics-linger", "120",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()
    address = re.fullmatch(r"metrics: http://127\.0\.0\.1:(\d+)/metrics\n", first)
    assert address, first
    printed = []
    for line in process.stdout:  # the summary is printed once the run is over
        printed.append(line)
        if line == "}\n":
            break
    summary = json.loads("".join(printed))
    started = time.monotonic()
    final = scrape(int(address[1]))
    for name in summary["detection"]["per_monitor"]:
        assert ("fedanomaly_threshold", (("monitor", name),)) in final
        assert ("fedanomaly_anomaly_score", (("monitor", name),)) in final
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 60  # not the whole 120 s
    assert "serving the final figures at" in stderr
