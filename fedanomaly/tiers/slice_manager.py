"""A network slice manager: G and E, and Algorithm 1 of seed 002 over its monitors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from fedanomaly.config.schema import ModelConfig
from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import Meter, Traffic, traffic_fields
from fedanomaly.metering.precision import Precision
from fedanomaly.models.sides import Arrays, GanShape, GeneratorSide
from fedanomaly.seeding import stable_hash
from fedanomaly.tiers.monitor import (
    CoLocatedMonitors,
    DivergenceError,
    StepResult,
    diverged_weights,
)


class MonitorGroup(Protocol):
    """The monitors a generator side trains with, wherever they run."""

    names: list[str]

    def first_batches(self) -> list[tuple[np.ndarray, Traffic]]:
        """Each monitor's first batch, in ``names`` order."""
        ...

    def step(self, iteration: int, payloads: list[Arrays]) -> list[StepResult]:
        """One exchange with every monitor, in ``names`` order.

        Parameters
        ----------
        iteration
            Number of the iteration, for error messages.
        payloads
            The generator side's message to each monitor (``z``, ``x_bar`` and, with an
            encoder, ``f``), in ``names`` order.

        Returns
        -------
        list of StepResult
            Each monitor's feedback, next batch, losses and traffic, in ``names`` order.
        """
        ...


class LocalMonitors:
    """Monitors in the same process as their generator side (standalone, centralized, or
    slices placed with their monitors)."""

    def __init__(self, monitors: CoLocatedMonitors) -> None:
        self.monitors = monitors
        self.names = [m.name for m in monitors.monitors]

    def first_batches(self) -> list[tuple[np.ndarray, Traffic]]:
        return self.monitors.first_batches()

    def step(self, iteration: int, payloads: list[Arrays]) -> list[StepResult]:
        """One exchange with every monitor, in ``names`` order.

        Parameters
        ----------
        iteration
            Number of the iteration, for error messages.
        payloads
            The generator side's message to each monitor, in ``names`` order.

        Returns
        -------
        list of StepResult
            Each monitor's feedback, next batch, losses and traffic, in ``names`` order.

        Raises
        ------
        DivergenceError
            If a monitor's critic loss or L_EG is not finite.
        """
        return self.monitors.step(iteration, payloads)


@dataclass
class IterationRecord:
    """Losses and traffic of one iteration in one training group (slice)."""

    iteration: int
    group: str
    critic_loss: float
    eg_loss: float
    reconstruction: float | None = None  # the cycle term; None where the side has none
    up: Traffic = field(default_factory=Traffic)
    down: Traffic = field(default_factory=Traffic)
    compute_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (``reconstruction`` only where the side has a cycle term)."""
        losses = {"critic_loss": self.critic_loss, "eg_loss": self.eg_loss}
        if self.reconstruction is not None:
            losses["reconstruction"] = self.reconstruction
        return {
            "iteration": self.iteration,
            "group": self.group,
            **losses,
            "compute_seconds": self.compute_seconds,
            **traffic_fields(self.up, self.down),
        }


@dataclass
class FirstBatchesRecord:
    """The monitors' first batches, sent up before a group's first iteration."""

    group: str
    link: str
    up: Traffic

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "first_batches": self.group,
            "link": self.link,
            **traffic_fields(self.up, Traffic()),
        }


class SliceManager:
    """Runs Algorithm 1 for a group of monitors with one generator side.

    Parameters
    ----------
    name
        Group name (the slice, or the monitor in standalone mode, or the controller).
    shape, config
        Model sizes and hyper-parameters.
    seed
        Seeds G and E; the noise is seeded by ``seed`` and the group name.
    monitors
        The monitors it exchanges with.
    link
        The link its sends cross, or ``None`` when its monitors are local.
    device
        Torch device for G and E.
    precision
        Payload precision of what it sends its monitors (``payload.generated``).
    """

    def __init__(
        self,
        name: str,
        shape: GanShape,
        config: ModelConfig,
        seed: int,
        monitors: MonitorGroup,
        link: str | None,
        device: str = "cpu",
        precision: Precision = "float32",
    ) -> None:
        self.name = name
        self.side = GeneratorSide(shape, config, seed, device, seed + stable_hash(name))
        self.monitors = monitors
        self.link = link
        self.precision = precision
        self.meter = Meter()
        self.stopwatch = Stopwatch()
        self.records: list[IterationRecord | FirstBatchesRecord] = []
        self._batches: list[np.ndarray] | None = None

    def send(self, arrays: Arrays) -> tuple[Arrays, Traffic]:
        """A message to a monitor: what arrives, and its metered size (nothing is metered or
        encoded when no link is crossed)."""
        if self.link is None:
            return dict(arrays), Traffic()
        return self.meter.transmit(self.link, "down", arrays, self.precision)

    def train(self, start: int, iterations: int) -> None:
        """Iterations ``start`` .. ``start + iterations - 1`` of Algorithm 1.

        Each iteration: every monitor's batch X_n goes through E and a fresh z_n through G;
        (f_n, z_n, X_bar_n), or X_bar_n alone without an encoder, go to monitor n, which trains
        its critic K times and answers with its feedback and its next batch; the averaged
        feedback updates G and E. A record per iteration is appended to ``records``.

        Parameters
        ----------
        start
            Number of the first iteration.
        iterations
            How many iterations to run.

        Raises
        ------
        DivergenceError
            If a monitor's loss, G's and E's reconstruction, or after the last iteration a
            weight of G or E is not finite.
        """
        if self._batches is None:
            first = self.monitors.first_batches()
            self._batches = [batch for batch, _ in first]
            if self.link is not None:
                up = Traffic.total_of(sent for _, sent in first)
                self.records.append(FirstBatchesRecord(self.name, self.link, up))
        cycle = self.side.encoder is not None and self.side.reconstruction_weight > 0
        for iteration in range(start, start + iterations):
            before = self.stopwatch.wall_seconds
            with self.stopwatch.timing():
                payloads = self.side.propose(self._batches)
            down = Traffic()
            received = []
            for payload in payloads:
                arrived, sent = self.send(payload)
                received.append(arrived)
                down.add(sent)
            results = self.monitors.step(iteration, received)
            with self.stopwatch.timing():
                reconstruction = self.side.update([r.feedback for r in results])
            if not np.isfinite(reconstruction):
                raise DivergenceError(
                    f"slice manager {self.name}: G and E diverged (reconstruction "
                    f"{reconstruction:g}) at iteration {iteration}"
                )
            self._batches = [r.next_batch for r in results]
            up = Traffic.total_of(r.sent for r in results)
            self.records.append(
                IterationRecord(
                    iteration,
                    self.name,
                    float(np.mean([r.critic_loss for r in results])),
                    float(np.mean([r.eg_loss for r in results])),
                    reconstruction if cycle else None,
                    up,
                    down,
                    # the slice's own work, then its slowest monitor's (they work in parallel)
                    self.stopwatch.wall_seconds - before + max(r.seconds for r in results),
                )
            )
        if not self.side.finite():
            raise diverged_weights(f"slice manager {self.name}: G and E", start + iterations - 1)

    def arrays(self) -> list[np.ndarray]:
        """G's then E's state (what the controller averages)."""
        return self.side.arrays()

    def load_arrays(self, arrays: list[np.ndarray]) -> None:
        """Replace G and E by the controller's FedAvg result."""
        self.side.load_arrays(arrays)

    def memory_bytes(self) -> dict[str, int]:
        """Parameters and optimizer state of G and E."""
        return self.side.memory_bytes()
