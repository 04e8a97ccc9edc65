"""The docker files parse and agree with each other and with the CLI and its metrics."""

from __future__ import annotations

import json
import shlex
import socket
from pathlib import Path

import yaml
from typer.testing import CliRunner

from fedanomaly.cli import app
from fedanomaly.config import resolve_topology
from fedanomaly.runs.live import LiveMetrics

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def simulator_args() -> list[str]:
    command = compose()["services"]["simulator"]["command"][0]
    words = shlex.split(command.replace("$$", "$"))
    return words[words.index("fedanomaly") + 1 :]


def test_compose_has_the_cluster_the_simulator_prometheus_and_grafana():
    services = compose()["services"]
    assert set(services) == {"ray-head", "ray-worker", "simulator", "prometheus", "grafana"}
    assert "--head" in services["ray-head"]["command"]
    assert "--address=ray-head:6379" in services["ray-worker"]["command"]
    assert "ray start --address=ray-head:6379" in services["simulator"]["command"][0]
    assert "9100:9100" in services["simulator"]["ports"]
    assert "9090:9090" in services["prometheus"]["ports"]
    assert "3000:3000" in services["grafana"]["ports"]


def test_the_simulator_command_is_a_valid_cli_call_serving_metrics_on_all_interfaces():
    args = simulator_args()
    assert args[0] == "simulate"
    option = dict(zip(args[2::2], args[3::2], strict=False))
    assert option["--metrics-port"] == "9100" and option["--metrics-host"] == "0.0.0.0"
    assert option["--ray-address"] == "auto"
    assert (DOCKER.parent / args[1]).exists()
    # every option exists: click rejects unknown ones while parsing, before --help answers
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output


def test_the_simulator_command_resolves_up_to_its_metrics_endpoint(tmp_path, monkeypatch):
    # the same command with a port this test holds: the topology, the options and the data
    # resolve, and the run stops where it would open its endpoint on all interfaces
    monkeypatch.chdir(DOCKER.parent)
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        port = str(held.getsockname()[1])
        args = simulator_args()
        args = args[: args.index("--out")]  # its --out is a shell expansion inside the image
        args[args.index("--metrics-port") + 1] = port
        out = tmp_path / "run"
        result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2
    assert f"--metrics-port {port}: cannot serve on 0.0.0.0:{port}" in result.output
    assert not out.exists()


def test_prometheus_scrapes_the_simulator_port_and_grafana_reads_prometheus():
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    targets = [t for job in config["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]]  # fmt: skip
    port = dict(zip(simulator_args()[2::2], simulator_args()[3::2], strict=False))["--metrics-port"]
    assert targets == [f"simulator:{port}"]
    sources = yaml.safe_load(
        (DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (DOCKER / "grafana" / "provisioning" / "dashboards" / "fedanomaly.yaml").read_text()
    )
    mounted = compose()["services"]["grafana"]["volumes"]
    assert any(v.endswith(providers["providers"][0]["options"]["path"] + ":ro") for v in mounted)


def test_the_dashboard_queries_metrics_the_simulator_serves():
    dashboard = json.loads((DOCKER / "grafana" / "dashboards" / "fedanomaly.json").read_text())
    live = LiveMetrics(resolve_topology(slices=1, monitors=1), 0)
    try:
        families = list(live.registry.collect())
    finally:
        live.close()
    # a counter family ``x`` is exposed as ``x_total``
    served = {f.name + ("_total" if f.type == "counter" else "") for f in families}
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {"Bytes per link and direction", "Losses", "Alarms per monitor"} <= titles
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = [w for w in target["expr"].replace("(", " ").replace("[", " ").split()
                     if w.startswith("fedanomaly_")]  # fmt: skip
            assert names and all(n in served for n in names), target["expr"]
