"""``cmsf-attae`` in the hierarchy: CMSF-GAN split across the tiers, then ATTAE trained with
the anomalies it generates (the "CMSF-GAN + ATTAE" pipeline of seed 000).

For the first I_G iterations each slice manager holds G(z, c) and every monitor with labelled
anomalies a discriminator D on its typed windows; they exchange typed fakes (down) and
dL_G/dX' (up) as BiWGAN-GP's sides do, and the controller averages the slices' G with FedAvg
every L iterations. Then G goes down to every monitor, labelled or not: each generates its own
anomalous windows of every type, which push ATTAE's reconstruction error on anomalies up while
it trains (the hinge of :func:`~fedanomaly.models.attae.augmented_loss`) and calibrate the
``generated`` threshold. ATTAE trains as a local model, averaged monitor -> slice -> controller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import ray

from fedanomaly.config.schema import ModelConfig, PayloadConfig
from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import Traffic
from fedanomaly.metering.wire import from_positional, positional
from fedanomaly.models.cmsf import CmsfCriticSide, CmsfGeneratorSide
from fedanomaly.models.local import LocalLearner
from fedanomaly.models.sides import Arrays
from fedanomaly.tiers.local_slice import (
    GroupRecord,
    HostedLearners,
    LearnerGroup,
    LearningMonitor,
    LocalSliceManager,
    RemoteLearners,
)
from fedanomaly.tiers.monitor import DivergenceError
from fedanomaly.tiers.slice_manager import IterationRecord


@dataclass
class CriticExchange:
    """A monitor's answer in one CMSF-GAN iteration, and what sending it cost."""

    feedback: Arrays  # as the slice manager receives it (at the feedback precision)
    critic_loss: float
    generator_loss: float
    sent: Traffic
    seconds: float = 0.0


def generated_anomalies(generator: CmsfGeneratorSide, per_type: int) -> np.ndarray:
    """``per_type`` windows of every type from ``generator``, type after type.

    Parameters
    ----------
    generator
        The CMSF-GAN generator to draw from; its noise stream advances.
    per_type
        Windows per anomaly type.

    Returns
    -------
    numpy.ndarray
        Windows ``(types * per_type, T, d)``, float32, in order of type index.
    """
    codes = np.repeat(np.arange(generator.types, dtype=np.int64), per_type)
    return generator.generate(codes).astype(np.float32)


class GeneratingMonitor(LearningMonitor):
    """A monitor of ``cmsf-attae``: a local ATTAE, and a CMSF-GAN discriminator where it holds
    labelled anomalies.

    Parameters
    ----------
    name
        Monitor name.
    learner
        Its ATTAE, optimizer and normal windows.
    critic
        Its discriminator on its labelled typed windows, or ``None`` without labels.
    generator
        Its own copy of G to generate from once the global G arrives (untrained until then).
    per_type
        Anomalous windows it generates per type.
    link
        The link its messages cross to the slice manager, or ``None`` where it is local.
    label
        How errors name it.
    payload
        Precisions of its feedback and of the models it sends.
    """

    def __init__(
        self,
        name: str,
        learner: LocalLearner,
        critic: CmsfCriticSide | None,
        generator: CmsfGeneratorSide,
        per_type: int,
        link: str | None,
        label: str | None,
        payload: PayloadConfig,
    ) -> None:
        super().__init__(name, learner, link, label, payload.models)
        self.critic = critic
        self.generator = generator
        self.per_type = per_type
        self.feedback_precision = payload.feedback

    def critic_step(self, iteration: int, payload: Arrays) -> CriticExchange:
        """K steps of D against the slice's typed fakes, then dL_G/dX' sent up.

        Parameters
        ----------
        iteration
            Number of the iteration, for the error message.
        payload
            The slice's typed fakes: ``codes`` (type indices) and ``x_fake``.

        Returns
        -------
        CriticExchange
            dL_G/dX' as the slice manager receives it (at the feedback precision), the last
            losses of D and G, what sending cost, and the wall time of D's steps.

        Raises
        ------
        RuntimeError
            If the monitor has no discriminator (no labelled anomalies).
        DivergenceError
            If D's or G's loss is not finite.
        """
        if self.critic is None:
            raise RuntimeError(f"{self.label} has no labelled anomalies, hence no discriminator")
        watch = Stopwatch()
        with watch.timing():
            critic_loss, generator_loss, feedback = self.critic.train(payload)
        self.stopwatch.add(watch)
        if not (np.isfinite(critic_loss) and np.isfinite(generator_loss)):
            raise DivergenceError(
                f"{self.label}: CMSF-GAN discriminator loss {critic_loss:g}, generator loss "
                f"{generator_loss:g} at iteration {iteration}"
            )
        sent = Traffic()
        if self.link is not None:
            feedback, sent = self.meter.transmit(self.link, "up", feedback, self.feedback_precision)
        return CriticExchange(feedback, critic_loss, generator_loss, sent, watch.wall_seconds)

    def take_generator(self, arrays: list[np.ndarray]) -> None:
        """Load the global G and generate the anomalous windows ATTAE trains against."""
        self.generator.load_arrays(arrays)
        self.learner.anomalies = generated_anomalies(self.generator, self.per_type)

    def memory_bytes(self) -> dict[str, int]:
        """ATTAE's and, with labels, D's parameters, optimizer state and data; G's weights."""
        held = dict(self.learner.memory_bytes())
        parts = [self.critic.memory_bytes()] if self.critic is not None else []
        parts.append({"parameters": self.generator.memory_bytes()["parameters"]})
        for part in parts:
            for key, value in part.items():
                held[key] = held.get(key, 0) + value
        return held


class GeneratingGroup(LearnerGroup, Protocol):
    """The monitors of a ``cmsf-attae`` slice manager, wherever they run."""

    def labelled(self) -> list[str]:
        """Names of the monitors with a discriminator, in ``names`` order."""
        ...

    def critic_step(self, iteration: int, payloads: dict[str, Arrays]) -> list[CriticExchange]:
        """One CMSF-GAN exchange with each named monitor, in the order given.

        Parameters
        ----------
        iteration
            Number of the iteration, for error messages.
        payloads
            Typed fakes (``codes``, ``x_fake``) by name of a labelled monitor.

        Returns
        -------
        list of CriticExchange
            The monitors' answers.
        """
        ...

    def take_generator(self, arrays: list[np.ndarray]) -> None:
        """Every monitor loads G and generates its anomalies."""
        ...


class HostedGenerating(HostedLearners):
    """``cmsf-attae`` monitors in the same process as their slice manager."""

    monitors: list[GeneratingMonitor]

    def labelled(self) -> list[str]:
        return [m.name for m in self.monitors if m.critic is not None]

    def critic_step(self, iteration: int, payloads: dict[str, Arrays]) -> list[CriticExchange]:
        """One CMSF-GAN exchange with each named monitor, one after the other, in the order
        given.

        Parameters
        ----------
        iteration
            Number of the iteration, for error messages.
        payloads
            Typed fakes (``codes``, ``x_fake``) by name of a labelled monitor.

        Returns
        -------
        list of CriticExchange
            The monitors' answers, in the order of ``payloads``.

        Raises
        ------
        RuntimeError
            If a named monitor has no discriminator.
        DivergenceError
            If a monitor's D or G loss is not finite.
        """
        by_name = {m.name: m for m in self.monitors}
        return [by_name[name].critic_step(iteration, p) for name, p in payloads.items()]

    def take_generator(self, arrays: list[np.ndarray]) -> None:
        for monitor in self.monitors:
            monitor.take_generator(arrays)


class RemoteGenerating(RemoteLearners):
    """``cmsf-attae`` monitors hosted by other nodes, reached through Ray actor calls."""

    def labelled(self) -> list[str]:
        return self.gather(lambda host, names: host.labelled.remote(names))

    def critic_step(self, iteration: int, payloads: dict[str, Arrays]) -> list[CriticExchange]:
        """One CMSF-GAN exchange with each named monitor: each hosting node steps its own
        (``TierNode.critic_step``), all nodes at once.

        Parameters
        ----------
        iteration
            Number of the iteration, for error messages.
        payloads
            Typed fakes (``codes``, ``x_fake``) by name of a labelled monitor.

        Returns
        -------
        list of CriticExchange
            The monitors' answers in host order (that of ``names``), whatever the order of
            ``payloads``.

        Raises
        ------
        ray.exceptions.RayTaskError
            If a hosting node's exchange failed; for a diverged monitor it is also a
            ``DivergenceError``.
        """
        return self.gather(
            lambda host, names: host.critic_step.remote(
                iteration, {n: payloads[n] for n in names if n in payloads}
            )
        )

    def take_generator(self, arrays: list[np.ndarray]) -> None:
        reference = ray.put(arrays)
        self.broadcast(lambda host, names: host.generator_to_learners.remote(names, reference))


class CmsfThenAttae:
    """A slice manager of ``cmsf-attae``: G for the first I_G iterations, then the average of
    its monitors' ATTAE copies.

    Its model, what the controller averages, is G's arrays followed by ATTAE's; the part not
    in training stays as it is through the averages.

    Parameters
    ----------
    name
        Group name (the slice, the monitor in standalone mode, or the controller).
    config
        I_G, M and the models' sizes.
    types, metrics
        Anomaly types k and metrics d.
    seed, noise_seed
        Seed of G's initial weights, and of its noise and type draws.
    initial_detector
        ATTAE's initial weights (the slice's average until its monitors train).
    learners
        Its monitors.
    link
        The link its messages cross, or ``None`` where its monitors are local.
    payload
        Precisions of the fakes and of the models it sends.
    """

    def __init__(
        self,
        name: str,
        config: ModelConfig,
        types: int,
        metrics: int,
        seed: int,
        noise_seed: int,
        initial_detector: list[np.ndarray],
        learners: GeneratingGroup,
        link: str | None,
        payload: PayloadConfig,
    ) -> None:
        self.name = name
        self.generator = CmsfGeneratorSide(types, metrics, config, seed, noise_seed)
        self.detector = LocalSliceManager(name, config, learners, link, payload.models)
        self.detector.model = initial_detector
        self.learners = learners
        self.labelled = learners.labelled()
        self.generator_iterations = config.generator_iterations
        self.batch_size = config.batch_size
        self.link = link
        self.payload = payload
        self.meter = self.detector.meter  # one account for both phases
        self.stopwatch = self.detector.stopwatch
        self.delivered = False

    @property
    def records(self) -> list[GroupRecord]:
        """Iteration records of both phases, in order."""
        return self.detector.records

    @records.setter
    def records(self, value: list[GroupRecord]) -> None:
        self.detector.records = value

    def train(self, start: int, iterations: int) -> None:
        """Iterations ``start``..: CMSF-GAN below I_G, ATTAE from there; G goes down to every
        monitor before ATTAE's first iteration.

        Parameters
        ----------
        start
            Number of the first iteration.
        iterations
            How many iterations to run.

        Raises
        ------
        DivergenceError
            If a monitor's loss is not finite.
        """
        end = start + iterations
        if start < self.generator_iterations:
            self.train_generator(start, min(end, self.generator_iterations))
        if end > self.generator_iterations:
            first = max(start, self.generator_iterations)
            opened = len(self.records)
            sent = Traffic() if self.delivered else self.deliver_generator()
            self.detector.train(first, end - first)
            self.records[opened].down.add(sent)

    def train_generator(self, start: int, stop: int) -> None:
        """CMSF-GAN iterations ``start`` .. ``stop - 1`` with the labelled monitors.

        Parameters
        ----------
        start
            Number of the first iteration.
        stop
            Number of the iteration after the last (at most I_G).

        Raises
        ------
        DivergenceError
            If a monitor's D or G loss is not finite.
        """
        for iteration in range(start, stop):
            before = self.stopwatch.wall_seconds
            with self.stopwatch.timing():
                payloads = self.generator.propose([self.batch_size] * len(self.labelled))
            down = Traffic()
            received = {}
            for name, payload in zip(self.labelled, payloads, strict=True):
                if self.link is not None:
                    payload, sent = self.meter.transmit(
                        self.link, "down", payload, self.payload.generated
                    )
                    down.add(sent)
                received[name] = payload
            answers = self.learners.critic_step(iteration, received)
            with self.stopwatch.timing():
                self.generator.update([a.feedback for a in answers])
            up = Traffic.total_of(a.sent for a in answers)
            self.records.append(
                IterationRecord(
                    iteration,
                    self.name,
                    float(np.mean([a.critic_loss for a in answers])),
                    float(np.mean([a.generator_loss for a in answers])),
                    0.0,
                    up,
                    down,
                    self.stopwatch.wall_seconds - before + max(a.seconds for a in answers),
                )
            )

    def deliver_generator(self) -> Traffic:
        """G to every monitor (metered per copy); each generates its anomalies."""
        arrays = self.generator.arrays()
        sent = Traffic()
        if self.link is not None:
            for _ in self.learners.names:
                received, one = self.meter.transmit(
                    self.link, "down", positional(arrays), self.payload.models
                )
                sent.add(one)
            arrays = from_positional(received, len(arrays))
        self.learners.take_generator(arrays)
        self.delivered = True
        return sent

    def send_model(self, copies: int, link: str) -> list[np.ndarray]:
        """The model for detection (G, which calibrates the ``generated`` threshold, and
        ATTAE) sent ``copies`` times over ``link``: what arrives.

        Parameters
        ----------
        copies
            How many copies to send and meter, one per monitor that detects with it.
        link
            The link they cross.

        Returns
        -------
        list of numpy.ndarray
            G's arrays then ATTAE's, as they arrive (at the models' precision; as held where
            ``copies`` is 0).
        """
        arrays = self.arrays()
        received = positional(arrays)
        for _ in range(copies):
            received, _ = self.meter.transmit(link, "down", positional(arrays), self.payload.models)
        return from_positional(received, len(arrays))

    def arrays(self) -> list[np.ndarray]:
        """G's arrays, then the slice's ATTAE average."""
        return self.generator.arrays() + self.detector.arrays()

    def load_part(self, arrays: list[np.ndarray], first: int) -> None:
        """The controller's average of G (``first`` 0), of ATTAE (``first`` at ATTAE's first
        array) or of both; an ATTAE average goes down before the next slice round.

        Parameters
        ----------
        arrays
            The averaged arrays: G's, ATTAE's, or G's then ATTAE's.
        first
            Index of ``arrays[0]`` in the whole model (G's arrays then ATTAE's).
        """
        split = len(self.generator.arrays())
        if first == 0:
            self.generator.load_arrays(arrays[:split])
        if first + len(arrays) > split:
            self.detector.load_arrays(arrays[split - first :])

    def memory_bytes(self) -> dict[str, int]:
        """G's parameters and optimizer state, and the ATTAE average."""
        held = self.generator.memory_bytes()
        held["parameters"] += self.detector.memory_bytes()["parameters"]
        return held
