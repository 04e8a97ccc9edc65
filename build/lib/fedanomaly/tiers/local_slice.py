"""The "local model" protocol: a whole model at every VM monitor, averaged monitor -> slice
manager -> controller.

Per slice round, each monitor trains its copy for L1 iterations and sends it up with its sample
count; the slice manager averages the copies weighted by sample count and the average goes back
down before the next slice round. The controller's FedAvg every L iterations (L / L1 slice
rounds) sees the slice's average exactly as it sees a split model's G and E, so the Flower side
is the same for both kinds of model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import ray

from fedanomaly.config.schema import ModelConfig
from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import Meter, Traffic, traffic_fields
from fedanomaly.metering.precision import Precision
from fedanomaly.metering.wire import from_positional, positional
from fedanomaly.models.attae import Attae
from fedanomaly.models.local import LocalLearner
from fedanomaly.tiers.monitor import DivergenceError, check_finite_weights
from fedanomaly.tiers.remote import RemoteHosts
from fedanomaly.tiers.slice_manager import FirstBatchesRecord, IterationRecord


@dataclass
class LocalRound:
    """One monitor's slice round: its losses, its model, and what sending the model cost."""

    losses: list[float]
    arrays: list[np.ndarray]
    samples: int
    sent: Traffic
    seconds: float = 0.0  # wall time of the local training


class LearningMonitor:
    """A VM monitor that trains a whole local model on its windows.

    Parameters
    ----------
    name
        Monitor name.
    learner
        Its model, optimizer and windows.
    link
        The link its model crosses to the slice manager, or ``None`` where the averaging
        happens in the same place (standalone, centralized).
    label
        How errors name it (default ``monitor <name>``).
    precision
        Payload precision of the model it sends (``payload.models``).
    """

    def __init__(
        self,
        name: str,
        learner: LocalLearner,
        link: str | None,
        label: str | None = None,
        precision: Precision = "float32",
    ) -> None:
        self.name = name
        self.label = label or f"monitor {name}"
        self.learner = learner
        self.link = link
        self.precision = precision
        self.meter = Meter()
        self.stopwatch = Stopwatch()

    def train(self, start: int, iterations: int) -> LocalRound:
        """Iterations ``start``.. of local training, then the model sent up.

        Parameters
        ----------
        start
            Number of the first iteration (for error messages).
        iterations
            Optimizer steps.

        Returns
        -------
        LocalRound
            Each step's loss, the model as the slice manager receives it (at the payload
            precision), the sample count, what sending cost and the training's wall time.

        Raises
        ------
        DivergenceError
            If a loss or, after the last step, a weight is not finite; the message names the
            monitor and the iteration.
        """
        before = self.stopwatch.wall_seconds
        losses = self.fit(start, iterations)
        seconds = self.stopwatch.wall_seconds - before
        arrays = self.learner.arrays()
        check_finite_weights(arrays, self.label, start + iterations - 1)
        sent = Traffic()
        if self.link is not None:
            message = {**positional(arrays), "num_examples": np.array(self.learner.samples)}
            received, sent = self.meter.transmit(self.link, "up", message, self.precision)
            arrays = from_positional(received, len(arrays))
        return LocalRound(losses, arrays, self.learner.samples, sent, seconds)

    def fit(self, start: int, iterations: int) -> list[float]:
        """Train on the monitor's windows, timed by its stopwatch.

        Parameters
        ----------
        start
            Number of the first iteration (for the error message).
        iterations
            Optimizer steps.

        Returns
        -------
        list of float
            The loss of each step.

        Raises
        ------
        DivergenceError
            If a loss is not finite; the message names the monitor and the iteration.
        """
        with self.stopwatch.timing():
            losses = self.learner.train(iterations)
        for offset, loss in enumerate(losses):
            if not np.isfinite(loss):
                raise DivergenceError(
                    f"{self.label}: reconstruction loss {loss:g} at iteration {start + offset}"
                )
        return losses

    def receive(self, arrays: list[np.ndarray]) -> None:
        """Take the slice's (or the global) average."""
        self.learner.load_arrays(arrays)

    def personalise(self, arrays: list[np.ndarray], start: int, iterations: int) -> Attae:
        """Fine-tune a received model on this monitor's windows alone; nothing is sent.

        The optimizer keeps the state of the monitor's training (fresh where the monitor did
        not train: centralized mode).

        Parameters
        ----------
        arrays
            The model it received for detection.
        start
            Number of the first fine-tuning iteration (the training's I).
        iterations
            Optimizer steps.

        Returns
        -------
        Attae
            The fine-tuned copy the monitor detects with.

        Raises
        ------
        DivergenceError
            If a loss is not finite.
        """
        self.receive(arrays)
        self.fit(start, iterations)
        return self.learner.model

    def memory_bytes(self) -> dict[str, int]:
        """Parameters, optimizer state and resident training data."""
        return self.learner.memory_bytes()


class LearnerGroup(Protocol):
    """The monitors a local slice manager averages, wherever they run."""

    names: list[str]

    def train(self, start: int, iterations: int) -> list[LocalRound]:
        """A slice round of every monitor, in ``names`` order.

        Parameters
        ----------
        start
            Number of the first iteration.
        iterations
            Optimizer steps of each monitor.

        Returns
        -------
        list of LocalRound
            Each monitor's losses, model, sample count and traffic, in ``names`` order.
        """
        ...

    def deliver(self, arrays: list[np.ndarray]) -> None:
        """Every monitor takes ``arrays``."""
        ...


class HostedLearners:
    """Monitors in the same process as their slice manager."""

    def __init__(self, monitors: list[LearningMonitor]) -> None:
        self.monitors = monitors
        self.names = [m.name for m in monitors]

    def train(self, start: int, iterations: int) -> list[LocalRound]:
        """A slice round of every monitor, one after the other, in ``names`` order.

        Parameters
        ----------
        start
            Number of the first iteration.
        iterations
            Optimizer steps of each monitor.

        Returns
        -------
        list of LocalRound
            Each monitor's losses, model, sample count and traffic, in ``names`` order.

        Raises
        ------
        DivergenceError
            If a monitor's loss or, after its last step, a weight is not finite.
        """
        return [m.train(start, iterations) for m in self.monitors]

    def deliver(self, arrays: list[np.ndarray]) -> None:
        for monitor in self.monitors:
            monitor.receive(arrays)


class RemoteLearners(RemoteHosts):
    """Local-model monitors hosted by other nodes, reached through Ray actor calls."""

    def train(self, start: int, iterations: int) -> list[LocalRound]:
        """A slice round of every monitor: each hosting node trains its own
        (``TierNode.train_learners``), all nodes at once.

        Parameters
        ----------
        start
            Number of the first iteration.
        iterations
            Optimizer steps of each monitor.

        Returns
        -------
        list of LocalRound
            Each monitor's losses, model, sample count and traffic, in ``names`` order.

        Raises
        ------
        ray.exceptions.RayTaskError
            If a hosting node's round failed; for a diverged monitor it is also a
            ``DivergenceError``.
        """
        return self.gather(lambda host, names: host.train_learners.remote(names, start, iterations))

    def deliver(self, arrays: list[np.ndarray]) -> None:
        reference = ray.put(arrays)
        self.broadcast(lambda host, names: host.deliver_to_learners.remote(names, reference))


@dataclass
class LocalIterationRecord:
    """The mean reconstruction loss of one iteration in one group, and the traffic of the
    slice round it closes (up) or opens (down)."""

    iteration: int
    group: str
    loss: float
    up: Traffic = field(default_factory=Traffic)
    down: Traffic = field(default_factory=Traffic)
    compute_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "iteration": self.iteration,
            "group": self.group,
            "loss": self.loss,
            "compute_seconds": self.compute_seconds,
            **traffic_fields(self.up, self.down),
        }


#: A group's iteration records: the local model's, after CMSF-GAN's split-phase records where
#: the group trains cmsf-attae.
GroupRecord = LocalIterationRecord | IterationRecord | FirstBatchesRecord


def weighted_average(models: list[list[np.ndarray]], weights: list[int]) -> list[np.ndarray]:
    """Sample-weighted mean of the models, array by array (FedAvg, eq. 27 of seed 002).

    Parameters
    ----------
    models
        Each model's arrays, in the same order and shapes for every model.
    weights
        Each model's weight (its sample count).

    Returns
    -------
    list of numpy.ndarray
        The weighted mean of each array, computed in float64 and cast back to the first
        model's dtype of that array.
    """
    # np.average computes in float64 whatever the arrays' precision; the result keeps theirs
    return [
        np.average(np.stack(arrays), axis=0, weights=weights).astype(arrays[0].dtype)
        for arrays in zip(*models, strict=True)
    ]


class LocalSliceManager:
    """Averages its monitors' local models every L1 iterations.

    Parameters
    ----------
    name
        Group name (the slice, the monitor in standalone mode, or the controller).
    config
        ``slice_iterations`` (L1).
    learners
        The monitors it averages.
    link
        The link the average crosses down to the monitors, or ``None`` where they are local.
    precision
        Payload precision of the average it sends (``payload.models``).
    """

    def __init__(
        self,
        name: str,
        config: ModelConfig,
        learners: LearnerGroup,
        link: str | None,
        precision: Precision = "float32",
    ) -> None:
        self.name = name
        self.slice_iterations = config.slice_iterations
        self.learners = learners
        self.link = link
        self.precision = precision
        self.meter = Meter()
        self.stopwatch = Stopwatch()
        self.records: list[GroupRecord] = []
        self.model: list[np.ndarray] = []
        self.pending: list[np.ndarray] | None = None

    def transmit_down(
        self, arrays: list[np.ndarray], copies: int | None = None, link: str | None = None
    ) -> tuple[list[np.ndarray], Traffic]:
        """Send ``arrays`` down ``link`` (default the slice's) once per monitor, or ``copies``
        times, metered per copy.

        Parameters
        ----------
        arrays
            The model to send.
        copies
            How many copies to send and meter (default: one per monitor).
        link
            The link they cross (default: the slice's); where both are ``None`` nothing is
            sent or metered and ``arrays`` come back as they are.

        Returns
        -------
        tuple
            The arrays as they arrive (at the payload precision) and the traffic.
        """
        sent = Traffic()
        link = link or self.link
        if link is None:
            return arrays, sent
        received = arrays
        for _ in range(len(self.learners.names) if copies is None else copies):
            wire, one = self.meter.transmit(link, "down", positional(arrays), self.precision)
            received = from_positional(wire, len(arrays))
            sent.add(one)
        return received, sent

    def deliver_pending(self) -> Traffic:
        """Send the model waiting to go down to every monitor (metered per copy)."""
        if self.pending is None:
            return Traffic()
        arrays, sent = self.transmit_down(self.pending)
        self.learners.deliver(arrays)
        self.pending = None
        return sent

    def train(self, start: int, iterations: int) -> None:
        """Iterations ``start``.. in slice rounds of L1; a record per iteration.

        Parameters
        ----------
        start
            Number of the first iteration.
        iterations
            How many iterations to run.

        Raises
        ------
        DivergenceError
            If a monitor's loss or, after its last step, a weight is not finite.
        """
        done = 0
        while done < iterations:
            count = min(self.slice_iterations, iterations - done)
            down = self.deliver_pending()
            rounds = self.learners.train(start + done, count)
            before = self.stopwatch.wall_seconds
            with self.stopwatch.timing():
                self.model = weighted_average(
                    [r.arrays for r in rounds], [r.samples for r in rounds]
                )
            if self.link is not None:
                self.pending = self.model
            averaging = self.stopwatch.wall_seconds - before
            slowest = max(r.seconds for r in rounds) / count  # per iteration of the round
            up = Traffic.total_of(r.sent for r in rounds)
            for offset in range(count):
                self.records.append(
                    LocalIterationRecord(
                        start + done + offset,
                        self.name,
                        float(np.mean([r.losses[offset] for r in rounds])),
                        up if offset == count - 1 else Traffic(),
                        down if offset == 0 else Traffic(),
                        slowest + (averaging if offset == count - 1 else 0.0),
                    )
                )
            done += count

    def arrays(self) -> list[np.ndarray]:
        """The slice's current average."""
        return self.model

    def load_arrays(self, arrays: list[np.ndarray]) -> None:
        """A global average from the controller; it goes down before the next slice round."""
        self.model = [np.array(a) for a in arrays]
        self.pending = self.model

    def memory_bytes(self) -> dict[str, int]:
        """The averaged model it holds."""
        return {"parameters": int(sum(a.nbytes for a in self.model))}
