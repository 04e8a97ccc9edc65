"""A VM monitor: its local windows, its critic D_n, and its side of the feedback exchange."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedanomaly.config.schema import ModelConfig
from fedanomaly.data.augmentation import stretch_levels
from fedanomaly.data.preprocessing import resident_bytes
from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import Meter, Traffic
from fedanomaly.metering.precision import Precision
from fedanomaly.models.critic_bank import CriticBank, CriticOutcome
from fedanomaly.models.sides import Arrays, CriticSide, GanShape
from fedanomaly.seeding import stable_hash


class DivergenceError(Exception):
    """A loss, a model's weights or its scores turned NaN or infinite; the message names the
    monitor (or slice manager) and the iteration."""


def check_finite_weights(arrays: list[np.ndarray], holder: str, iteration: int) -> None:
    """Stop a model whose weights are no longer numbers before anyone receives it.

    Parameters
    ----------
    arrays
        The model's weights.
    holder
        Who holds it, for the message (``monitor vm-1-1``).
    iteration
        The last iteration it trained.

    Raises
    ------
    DivergenceError
        If a weight is NaN or infinite (the losses, taken before each step, miss what the
        last step did).
    """
    if not all(np.isfinite(array).all() for array in arrays):
        raise diverged_weights(holder, iteration)


def diverged_weights(holder: str, iteration: int) -> DivergenceError:
    """The error for weights that are no longer numbers, naming who holds them and when.

    Parameters
    ----------
    holder
        Who holds them, for the message (``monitor vm-1-1``).
    iteration
        The last iteration they trained.

    Returns
    -------
    DivergenceError
        The error, for the caller to raise.
    """
    return DivergenceError(f"{holder}: weights turned NaN or infinite at iteration {iteration}")


@dataclass
class StepResult:
    """What a monitor returns after one iteration, and what it cost to send."""

    feedback: Arrays  # as the slice manager receives it (at the feedback precision)
    next_batch: np.ndarray  # likewise; the monitor keeps its own full-precision copy
    critic_loss: float
    eg_loss: float
    sent: Traffic
    seconds: float = 0.0  # wall time of the monitor's computation in this iteration


class Monitor:
    """A VM monitor holding its training windows and its critic.

    Parameters
    ----------
    name
        Monitor name.
    windows
        Training windows, shape ``(count, T, d)``, float32.
    shape, config
        Model sizes and hyper-parameters.
    seed
        Run seed; with the name it seeds the critic and the batch sampling.
    link
        The link its sends cross (``monitor_slice``, ``monitor_controller``), or ``None`` when
        its generator side is in the same place (standalone, centralized): nothing is metered.
    label
        How errors name it (default ``monitor <name>``).
    precision
        Payload precision of what it sends (``payload.feedback``).
    """

    def __init__(
        self,
        name: str,
        windows: np.ndarray,
        shape: GanShape,
        config: ModelConfig,
        seed: int,
        link: str | None,
        label: str | None = None,
        precision: Precision = "float32",
    ) -> None:
        self.name = name
        self.label = label or f"monitor {name}"
        self.windows = windows  # may be a read-only view of the scaled train part
        self.batch_size = config.batch_size
        self.critic = CriticSide(shape, config, seed=seed + stable_hash(name))
        self.rng = np.random.default_rng([seed, stable_hash(name)])
        self.level_stretch = config.level_stretch
        # the training windows' mean, which stretching moves levels away from (none without)
        self.centre: np.ndarray | None = (
            windows.mean(axis=(0, 1), dtype=np.float64) if self.level_stretch else None
        )
        self.link = link
        self.precision = precision
        self.meter = Meter()
        self.stopwatch = Stopwatch()
        self.batch: np.ndarray | None = None  # the batch of the coming iteration

    def send(self, arrays: Arrays) -> tuple[Arrays, Traffic]:
        """A message towards the generator side: what arrives, and its metered size (nothing
        is metered or encoded when no link is crossed)."""
        if self.link is None:
            return dict(arrays), Traffic()
        return self.meter.transmit(self.link, "up", arrays, self.precision)

    def sample(self) -> np.ndarray:
        """M windows drawn without replacement from the training windows, their levels
        stretched away from the training windows' mean by factors drawn from
        [1, 1 + ``model.level_stretch``] (with 0 no factor is drawn: the old batches)."""
        chosen = self.rng.choice(len(self.windows), self.batch_size, replace=False)
        batch = self.windows[np.sort(chosen)]
        if self.centre is None:
            return batch
        factors = self.rng.uniform(1.0, 1.0 + self.level_stretch, len(batch))
        return stretch_levels(batch, self.centre, factors)

    def first_batch(self) -> tuple[np.ndarray, Traffic]:
        """The batch of the first iteration as the slice manager receives it, and what sending
        it cost."""
        self.batch = self.sample()
        received, sent = self.send({"x": self.batch})
        return received["x"], sent

    def step(self, iteration: int, payload: Arrays) -> StepResult:
        """K critic steps on its batch against the generator side's ``payload``, then feedback.

        The batch for the next iteration travels with the feedback, so one message per
        iteration and direction crosses the link.

        Parameters
        ----------
        iteration
            Number of the iteration, for the error message.
        payload
            The generator side's message to this monitor: ``z``, ``x_bar`` and, with an
            encoder, ``f``.

        Returns
        -------
        StepResult
            The feedback and the next batch as the generator side receives them, the losses,
            what sending cost, and the wall time of the monitor's work.

        Raises
        ------
        DivergenceError
            If the critic loss or L_EG is not finite.
        """
        before = self.stopwatch.wall_seconds
        with self.stopwatch.timing():
            outcome = self.critic.train(self.batch, payload)
        return self.finish(iteration, outcome, self.stopwatch.wall_seconds - before)

    def finish(self, iteration: int, outcome: CriticOutcome, seconds: float) -> StepResult:
        """Check the critic's outcome, draw the next batch and send it with the feedback.

        Parameters
        ----------
        iteration
            Number of the iteration, for the error message.
        outcome
            The critic's last loss, L_EG and feedback arrays.
        seconds
            The wall time the critic steps took (this monitor's share when they ran batched
            with co-located critics).

        Returns
        -------
        StepResult
            The feedback and the next batch as the generator side receives them, the losses,
            what sending cost, and ``seconds`` plus the time drawing the batch took.

        Raises
        ------
        DivergenceError
            If the critic loss or L_EG is not finite.
        """
        critic_loss, eg_loss, feedback = outcome
        if not (np.isfinite(critic_loss) and np.isfinite(eg_loss)):
            raise DivergenceError(
                f"{self.label}: critic loss {critic_loss:g}, EG loss {eg_loss:g} "
                f"at iteration {iteration}"
            )
        before = self.stopwatch.wall_seconds
        with self.stopwatch.timing():
            self.batch = self.sample()
        seconds += self.stopwatch.wall_seconds - before
        received, sent = self.send({**feedback, "x": self.batch})
        next_batch = received.pop("x")
        return StepResult(received, next_batch, critic_loss, eg_loss, sent, seconds)

    def memory_bytes(self) -> dict[str, int]:
        """Parameters, optimizer state and resident training data."""
        return {**self.critic.memory_bytes(), "data": resident_bytes(self.windows)}


class CoLocatedMonitors:
    """Monitors of one process that step together; their critics run as one batch.

    Parameters
    ----------
    monitors
        The monitors, in the order their payloads come.
    batched
        Stack the critics into a :class:`CriticBank` (with more than one monitor); otherwise
        each critic trains on its own, one after the other.
    """

    def __init__(self, monitors: list[Monitor], batched: bool) -> None:
        self.monitors = monitors
        self.bank = None
        if batched and len(monitors) > 1:
            self.bank = CriticBank([m.critic for m in monitors])

    @property
    def names(self) -> list[str]:
        """The monitors' names, in the group's order."""
        return [m.name for m in self.monitors]

    def first_batches(self) -> list[tuple[np.ndarray, Traffic]]:
        """Every monitor's first batch (as received) and what sending it cost."""
        return [m.first_batch() for m in self.monitors]

    def step(self, iteration: int, payloads: list[Arrays]) -> list[StepResult]:
        """One iteration of every monitor; a batched step's time is shared out equally.

        Parameters
        ----------
        iteration
            Number of the iteration, for error messages.
        payloads
            The generator side's message to each monitor, in ``monitors`` order.

        Returns
        -------
        list of StepResult
            Each monitor's result, in ``monitors`` order.

        Raises
        ------
        DivergenceError
            If a monitor's critic loss or L_EG is not finite.
        """
        if self.bank is None:
            return [
                m.step(iteration, payload)
                for m, payload in zip(self.monitors, payloads, strict=True)
            ]
        watch = Stopwatch()
        with watch.timing():
            outcomes = self.bank.train([m.batch for m in self.monitors], payloads)
        share = Stopwatch(watch.cpu_seconds / len(self.bank), watch.wall_seconds / len(self.bank))
        results = []
        for monitor, outcome in zip(self.monitors, outcomes, strict=True):
            monitor.stopwatch.add(share)
            results.append(monitor.finish(iteration, outcome, share.wall_seconds))
        return results
