"""A VM monitor: its local windows, its critic D_n, and its side of the feedback exchange."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedanomaly.config.schema import ModelConfig
from fedanomaly.data.sources.synthetic import stable_hash
from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import Meter, Traffic
from fedanomaly.models.sides import Arrays, CriticSide, GanShape


class DivergenceError(Exception):
    """A loss turned NaN or infinite; the message names the monitor and the iteration."""


@dataclass
class StepResult:
    """What a monitor returns after one iteration, and what it cost to send."""

    feedback: Arrays
    next_batch: np.ndarray
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
    ) -> None:
        self.name = name
        self.label = label or f"monitor {name}"
        self.windows = np.ascontiguousarray(windows, dtype=np.float32)
        self.batch_size = config.batch_size
        self.critic = CriticSide(shape, config, seed=seed + stable_hash(name))
        self.rng = np.random.default_rng([seed, stable_hash(name)])
        self.link = link
        self.meter = Meter()
        self.stopwatch = Stopwatch()

    def send(self, arrays: Arrays) -> Traffic:
        """Meter a message towards the generator side (if it crosses a link)."""
        if self.link is None:
            return Traffic()
        return self.meter.send(self.link, "up", arrays)

    def sample(self) -> np.ndarray:
        """M windows drawn without replacement from the training windows."""
        chosen = self.rng.choice(len(self.windows), self.batch_size, replace=False)
        return self.windows[np.sort(chosen)]

    def first_batch(self) -> tuple[np.ndarray, Traffic]:
        """The batch of the first iteration, and what sending it cost."""
        batch = self.sample()
        return batch, self.send({"x": batch})

    def step(self, iteration: int, batch: np.ndarray, payload: Arrays) -> StepResult:
        """K critic steps on ``batch`` against the generator side's ``payload``, then feedback.

        The batch for the next iteration travels with the feedback, so one message per
        iteration and direction crosses the link.

        Raises
        ------
        DivergenceError
            If the critic loss or L_EG is not finite.
        """
        before = self.stopwatch.wall_seconds
        with self.stopwatch.timing():
            critic_loss, eg_loss, feedback = self.critic.train(batch, payload)
            if not (np.isfinite(critic_loss) and np.isfinite(eg_loss)):
                raise DivergenceError(
                    f"{self.label}: critic loss {critic_loss:g}, EG loss {eg_loss:g} "
                    f"at iteration {iteration}"
                )
            next_batch = self.sample()
        seconds = self.stopwatch.wall_seconds - before
        sent = self.send({**feedback, "x": next_batch})
        return StepResult(feedback, next_batch, critic_loss, eg_loss, sent, seconds)

    def memory_bytes(self) -> dict[str, int]:
        """Parameters, optimizer state and resident training data."""
        return {**self.critic.memory_bytes(), "data": int(self.windows.nbytes)}
