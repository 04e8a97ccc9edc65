"""Live Prometheus metrics of a run, served over HTTP with prometheus-client while it trains.

Metric names (all prefixed ``fedanomaly_``):

- ``bytes_total{link, direction}``, ``messages_total{link, direction}``: traffic so far;
- ``iteration``, ``fedavg_round``: progress;
- ``loss{tier, group, loss}``: the latest losses of each training group: ``critic_loss`` (monitor
  tier, mean over the group's monitors), ``eg_loss`` and ``reconstruction`` (slice-manager tier),
  ``loss`` (a local model's, monitor tier);
- ``wall_seconds``, ``simulated_seconds``: time since the run started, and the simulated clock;
- ``anomaly_score{monitor}`` (the monitor's last test score), ``alarms_total{monitor}`` (test
  steps above its threshold), ``threshold{monitor}``: after detection.

Bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from fedanomaly.config.schema import Topology
from fedanomaly.errors import InputError
from fedanomaly.metering.meter import MONITOR_SLICE
from fedanomaly.runs.timeline import simulated_time

LOSS_TIERS = {
    "critic_loss": "monitor",
    "eg_loss": "slice_manager",
    "reconstruction": "slice_manager",
    "loss": "monitor",
}


class LiveMetrics:
    """A run's metrics endpoint; :meth:`record` and :meth:`detected` update it. Its ``port``
    and ``url`` say where it serves (the system picks the port for port 0).

    Parameters
    ----------
    topology
        The run's topology (links and L, for the simulated clock).
    port, host
        Where to serve.

    Raises
    ------
    InputError
        If the port cannot be bound (already in use, or not allowed).
    """

    def __init__(self, topology: Topology, port: int, host: str = "127.0.0.1") -> None:
        self.topology = topology
        self.registry = CollectorRegistry()
        labels = ("link", "direction")
        self.bytes = Counter("fedanomaly_bytes", "Bytes sent", labels, registry=self.registry)
        self.messages = Counter(
            "fedanomaly_messages", "Messages sent", labels, registry=self.registry
        )
        self.iteration = Gauge("fedanomaly_iteration", "Iterations done", registry=self.registry)
        self.round = Gauge("fedanomaly_fedavg_round", "FedAvg rounds done", registry=self.registry)
        self.loss = Gauge(
            "fedanomaly_loss", "Latest loss", ("tier", "group", "loss"), registry=self.registry
        )
        self.wall = Gauge("fedanomaly_wall_seconds", "Seconds since start", registry=self.registry)
        self.simulated = Gauge(
            "fedanomaly_simulated_seconds", "Simulated training seconds", registry=self.registry
        )
        self.score = Gauge(
            "fedanomaly_anomaly_score", "Last test score", ("monitor",), registry=self.registry
        )
        self.alarms = Counter(
            "fedanomaly_alarms", "Test steps above threshold", ("monitor",), registry=self.registry
        )
        self.threshold = Gauge(
            "fedanomaly_threshold", "Deployable threshold", ("monitor",), registry=self.registry
        )
        self.records: list[dict[str, Any]] = []
        self.done = 0
        self.started = time.perf_counter()
        try:
            self.server, _ = start_http_server(port, addr=host, registry=self.registry)
        except OSError as error:
            raise InputError(
                f"--metrics-port {port}: cannot serve on {host}:{port}: {error.strerror or error}"
            ) from None
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}/metrics"

    def record(self, records: list[dict[str, Any]]) -> None:
        """Take a batch of ``metrics.jsonl`` lines."""
        self.records.extend(records)
        for record in records:
            link = record.get("link", MONITOR_SLICE)  # rounds and uploads name theirs
            for direction in ("up", "down"):
                self.bytes.labels(link, direction).inc(record[f"{direction}_bytes"])
                self.messages.labels(link, direction).inc(record[f"{direction}_messages"])
            if "round" in record:
                self.round.set(record["round"])
            if "iteration" not in record:
                continue
            self.done = max(self.done, record["iteration"] + 1)
            self.iteration.set(self.done)
            for key in LOSS_TIERS:
                if key in record:
                    self.loss.labels(LOSS_TIERS[key], record["group"], key).set(record[key])
        self.wall.set(time.perf_counter() - self.started)
        self.simulated.set(simulated_time(self.records, self.topology)["simulated_seconds"])

    def detected(self, monitor: str, scores: Any, preds: Any, threshold: float) -> None:
        """A monitor's detection on its test part.

        Parameters
        ----------
        monitor
            The monitor's name (the ``monitor`` label).
        scores
            Its test steps' scores; the last one is shown as ``anomaly_score``.
        preds
            Its test steps' predictions (1: alarm), added up into ``alarms_total``.
        threshold
            Its deployable threshold at the last test step, the one the last score is
            compared with (``adaptive`` moves it from step to step).
        """
        self.score.labels(monitor).set(float(scores[-1]))
        self.alarms.labels(monitor).inc(int(preds.sum()))
        self.threshold.labels(monitor).set(threshold)

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
