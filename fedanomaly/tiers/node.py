"""A Ray actor of the simulation: it hosts monitors, slice managers, or both.

Placement decides what a node hosts: by default ``placement.monitors_per_node`` monitors of a
slice per node and a node per slice manager; with ``placement.slices_per_node`` that many slice
managers share a node with all their monitors. In standalone mode a monitor and its own
generator side share a node, in centralized mode the controller's node holds the pooled data
with one critic. The critics of the monitors a node steps together run as one batch
(``placement.batch_critics``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fedanomaly.config.schema import (
    EvaluationConfig,
    InjectionConfig,
    ModelConfig,
    PayloadConfig,
)
from fedanomaly.data.pipeline import MonitorData
from fedanomaly.data.preprocessing import make_windows
from fedanomaly.data.typed_windows import labelled_windows
from fedanomaly.detection.controls import control_scores
from fedanomaly.detection.detector import local_model_scores, model_scores
from fedanomaly.evaluation.report import MonitorReport, evaluate_monitor
from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import Meter, Traffic
from fedanomaly.metering.wire import from_positional, positional
from fedanomaly.models.cmsf import CmsfCriticSide, CmsfGeneratorSide
from fedanomaly.models.local import LocalLearner, build_local_model
from fedanomaly.models.sides import (
    Arrays,
    CriticSide,
    GanShape,
    GeneratorSide,
    load_module_arrays,
    module_arrays,
)
from fedanomaly.seeding import stable_hash
from fedanomaly.tiers.cmsf_slice import (
    CmsfThenAttae,
    CriticExchange,
    GeneratingMonitor,
    HostedGenerating,
    RemoteGenerating,
    generated_anomalies,
)
from fedanomaly.tiers.local_slice import (
    GroupRecord,
    HostedLearners,
    LearningMonitor,
    LocalRound,
    LocalSliceManager,
    RemoteLearners,
)
from fedanomaly.tiers.monitor import CoLocatedMonitors, DivergenceError, Monitor, StepResult
from fedanomaly.tiers.remote import RemoteMonitors
from fedanomaly.tiers.slice_manager import LocalMonitors, SliceManager


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict with every tensor on the CPU (what checkpoints hold)."""
    return {k: v.cpu() for k, v in module.state_dict().items()}


class TierNode:
    """One process of the simulation, hosting monitors and/or a slice manager.

    Parameters
    ----------
    shape, config
        Model sizes and hyper-parameters.
    seed
        Run seed.
    batch_critics
        Train the critics of monitors that step together as one batch.
    payload
        Precision of what its monitors and slice managers send.
    injection
        The anomaly types and how they are injected: the labelled anomalies of ``cmsf-attae``.
    unlabelled
        Monitors without labelled anomalies (``cmsf-attae``: no discriminator).
    """

    def __init__(
        self,
        shape: GanShape,
        config: ModelConfig,
        seed: int,
        batch_critics: bool,
        payload: PayloadConfig,
        injection: InjectionConfig,
        unlabelled: frozenset[str],
    ) -> None:
        torch.set_num_threads(1)
        self.shape = shape
        self.config = config
        self.seed = seed
        self.batch_critics = batch_critics
        self.payload = payload
        self.data: dict[str, MonitorData] = {}
        self.monitors: dict[str, Monitor | LearningMonitor] = {}
        #: groups of hosted monitors that step together, by their names in any order
        self.stepping: dict[frozenset[str], CoLocatedMonitors] = {}
        self.managers: dict[str, SliceManager | LocalSliceManager | CmsfThenAttae] = {}
        self.samples: dict[str, int] = {}
        self.injection = injection
        self.unlabelled = unlabelled
        self.types = len(self.injection.types)

    # --- monitors ---------------------------------------------------------------------------

    def hosted_monitor(
        self,
        name: str,
        windows: np.ndarray,
        link: str | None,
        label: str | None = None,
        typed: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Monitor | LearningMonitor:
        """A monitor of the run's kind of model: a critic (split) or a whole model (local);
        for ``cmsf-attae`` ATTAE and, given ``typed`` windows and their types, a
        discriminator.

        Parameters
        ----------
        name
            Monitor name (mixed into its seeds).
        windows
            Its training windows ``(count, T, d)``.
        link
            The link its messages cross, or ``None`` where nothing is metered.
        label
            How errors name it (default ``monitor <name>``).
        typed
            Labelled windows ``(n, T, d)`` and their type indices ``(n,)``; only
            ``cmsf-attae`` uses them.

        Returns
        -------
        Monitor or LearningMonitor
            A :class:`Monitor` for a split model, a :class:`GeneratingMonitor` for
            ``cmsf-attae``, a :class:`LearningMonitor` for the other local models.
        """
        if self.config.is_local:
            learner = LocalLearner(windows, self.config, self.seed, self.seed + stable_hash(name))
            if self.config.name != "cmsf-attae":
                return LearningMonitor(name, learner, link, label, self.payload.models)
            own = self.seed + stable_hash(name)
            critic = None if typed is None else CmsfCriticSide(*typed, self.types, self.config, own)
            generator = self.cmsf_generator(own)
            per_type = self.config.generated_per_type
            return GeneratingMonitor(
                name, learner, critic, generator, per_type, link, label, self.payload
            )
        return Monitor(
            name, windows, self.shape, self.config, self.seed, link, label, self.payload.feedback
        )

    def cmsf_generator(self, seed: int) -> CmsfGeneratorSide:
        """A CMSF-GAN generator for this run's types and metrics, seeded by ``seed``."""
        return CmsfGeneratorSide(self.types, self.shape.metrics, self.config, seed)

    def labelled_windows(self, data: MonitorData) -> tuple[np.ndarray, np.ndarray] | None:
        """A monitor's labelled typed windows for ``cmsf-attae`` (``None``: none, or another
        model)."""
        if self.config.name != "cmsf-attae" or data.name in self.unlabelled:
            return None
        return labelled_windows(data, self.injection, self.shape.length, self.seed)

    def add_monitors(self, monitors: list[MonitorData], link: str | None) -> None:
        """Host monitors with their training windows and critics (or local models).

        Parameters
        ----------
        monitors
            The monitors' data; kept for scoring, their train parts give the windows.
        link
            The link their messages cross, or ``None`` where nothing is metered (standalone).
        """
        for data in monitors:
            windows = data.windows("train", self.shape.length, self.config.window_stride)
            self.data[data.name] = data
            typed = self.labelled_windows(data)
            self.monitors[data.name] = self.hosted_monitor(data.name, windows, link, None, typed)

    def add_pooled_monitor(
        self,
        name: str,
        parts: list[np.ndarray],
        typed: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        """Host one critic on the training windows of uploaded train parts (centralized mode),
        and for ``cmsf-attae`` a discriminator on the uploaded labelled windows.

        Parameters
        ----------
        name
            Name of the pooled monitor (``controller``).
        parts
            The uploaded scaled train parts ``(steps, d)``, windowed one by one.
        typed
            The uploaded labelled windows and type indices, a pair per monitor; ``None`` or
            empty: no discriminator.
        """
        windows = np.concatenate(
            [make_windows(p, self.shape.length, self.config.window_stride, name) for p in parts]
        )
        pooled = None
        if typed:
            pooled = (np.concatenate([w for w, _ in typed]), np.concatenate([c for _, c in typed]))
        label = "controller (pooled data)"
        self.monitors[name] = self.hosted_monitor(name, windows, None, label, pooled)

    def upload_training_data(
        self, name: str, link: str
    ) -> tuple[list[np.ndarray], tuple[np.ndarray, np.ndarray] | None, Traffic]:
        """A hosted monitor's scaled train parts and, for ``cmsf-attae``, its labelled typed
        windows, sent once over ``link`` (centralized mode), with what the upload sent.

        Parameters
        ----------
        name
            The hosted monitor.
        link
            The link the upload crosses.

        Returns
        -------
        tuple
            The train parts ``(steps, d)``, one per VM; the labelled windows and their type
            indices, or ``None``; and the upload's traffic, metered on the monitor's meter at
            the arrays' own precision.
        """
        parts = [vm.train.scaled for vm in self.data[name].vms]
        meter = self.monitors[name].meter
        sent = Traffic()
        for k, part in enumerate(parts):
            sent.add(meter.send(link, "up", {f"train_{k}": part}))
        typed = self.labelled_windows(self.data[name])
        if typed is not None:
            sent.add(meter.send(link, "up", {"typed": typed[0], "types": typed[1]}))
        return parts, typed, sent

    def first_batches(self, names: list[str]) -> list[tuple[np.ndarray, Traffic]]:
        """First batches of the named hosted monitors, in the order of ``names``."""
        group = self.co_located(names)
        batches = dict(zip(group.names, group.first_batches(), strict=True))
        return [batches[name] for name in names]

    def co_located(self, names: list[str]) -> CoLocatedMonitors:
        """The named hosted monitors as one group that steps together, made on first use in
        the order of ``names``; the same names in another order find the same group, so a
        monitor's critic is stacked into one bank only."""
        key = frozenset(names)
        if key not in self.stepping:
            monitors = [self.monitors[name] for name in names]
            self.stepping[key] = CoLocatedMonitors(monitors, self.batch_critics)
        return self.stepping[key]

    def step(self, iteration: int, payloads: dict[str, Arrays]) -> list[StepResult]:
        """One iteration of each named hosted monitor (they step as one group, in the group's
        order; the results come back in the order of ``payloads``).

        Parameters
        ----------
        iteration
            Number of the iteration, for error messages.
        payloads
            The generator side's message to each hosted monitor, by name.

        Returns
        -------
        list of StepResult
            Each monitor's result, in the order of ``payloads``.

        Raises
        ------
        DivergenceError
            If a monitor's critic loss or L_EG is not finite.
        """
        group = self.co_located(list(payloads))
        results = group.step(iteration, [payloads[name] for name in group.names])
        by_name = dict(zip(group.names, results, strict=True))
        return [by_name[name] for name in payloads]

    def score(
        self,
        name: str,
        model: list[np.ndarray],
        critic: list[np.ndarray] | None,
        evaluation: EvaluationConfig,
    ) -> MonitorReport:
        """Score a hosted monitor with the received model (G and E, and a critic if sent, or a
        whole local model) and evaluate it beside the control detectors on the same windows.

        Parameters
        ----------
        name
            The hosted monitor.
        model
            The model it detects with: G's and E's arrays, a local model's, or for
            ``cmsf-attae`` G's followed by ATTAE's.
        critic
            A critic's arrays sent with the model (centralized mode), or ``None``: a split
            model's monitor keeps its own. Local models do not use it.
        evaluation
            Thresholds, metrics and control detectors.

        Returns
        -------
        MonitorReport
            The monitor's predictions, metrics and thresholds, and the controls' rows.

        Raises
        ------
        DivergenceError
            If fine-tuning's loss or a score is not finite (a model that diverged in its last
            step, after the last loss was taken).
        """
        data = self.data[name]
        seed = self.seed + stable_hash(name)
        controls = {}
        for control in evaluation.controls:
            if control != "untrained":
                controls[control] = control_scores(
                    control, data, self.shape.length, self.config.window_stride, seed
                )
        if self.config.is_local:
            generated = None
            if self.config.name == "cmsf-attae":  # G, then ATTAE
                generator = self.cmsf_generator(seed)
                parts = len(generator.arrays())
                generator.load_arrays(model[:parts])
                generated = generated_anomalies(generator, self.config.generated_per_type)
                model = model[parts:]
            if self.config.fine_tune_iterations:
                monitor = self.learning_monitor(name)
                if generated is not None and monitor.learner.anomalies is None:
                    monitor.learner.anomalies = generated  # centralized: no G reached it
                trained = monitor.personalise(
                    model, self.config.training_iterations, self.config.fine_tune_iterations
                )
            else:
                trained = build_local_model(self.config, self.shape.metrics, self.seed)
                load_module_arrays(model, trained)
            scores = local_model_scores(data, trained, self.config, generated)
            if "untrained" in evaluation.controls:
                initial = build_local_model(self.config, self.shape.metrics, self.seed)
                controls["untrained"] = local_model_scores(data, initial, self.config)
        else:
            side = GeneratorSide(self.shape, self.config, self.seed)
            side.load_arrays(model)
            monitor = self.monitors[name]
            if critic is not None:
                monitor.critic.load_arrays(critic)
            modules = (side.generator, side.encoder, monitor.critic.critic)
            scores = model_scores(data, modules, self.shape, self.config)
            if "untrained" in evaluation.controls:
                initial = GeneratorSide(self.shape, self.config, self.seed)
                critic_side = CriticSide(self.shape, self.config, seed)
                untrained = (initial.generator, initial.encoder, critic_side.critic)
                controls["untrained"] = model_scores(data, untrained, self.shape, self.config)
        parts = (scores.train, scores.validation, scores.test, scores.generated)
        if not all(np.isfinite(part).all() for part in parts if part is not None):
            raise DivergenceError(
                f"monitor {name}: its scores are not finite: the model it detects with diverged "
                f"by iteration {self.config.training_iterations - 1} (or its data hold values "
                "beyond any float)"
            )
        controls = {c: controls[c] for c in evaluation.controls}
        return evaluate_monitor(
            name,
            scores,
            controls,
            evaluation,
            data.vms[0].test.scaled[:, 0],
            data.beyond_train_range("test"),
        )

    def learning_monitor(self, name: str) -> LearningMonitor:
        """A hosted monitor of a local model."""
        monitor = self.monitors[name]
        if not isinstance(monitor, LearningMonitor):
            raise TypeError(f"monitor {name} holds a critic, not a local model")
        return monitor

    def personalised_state(self, name: str) -> dict[str, torch.Tensor]:
        """A hosted monitor's fine-tuned local model's state dict (for checkpoints)."""
        return cpu_state(self.learning_monitor(name).learner.model)

    def critic_state(self, name: str) -> dict[str, torch.Tensor]:
        """A hosted monitor's critic state dict (for checkpoints)."""
        return cpu_state(self.monitors[name].critic.critic)

    def checkpoint(self, group: str) -> dict[str, dict[str, torch.Tensor]]:
        """A hosted group's G and E state dicts, or its local model's (``model``)."""
        manager = self.managers[group]
        if isinstance(manager, CmsfThenAttae):
            model = build_local_model(self.config, self.shape.metrics, self.seed)
            load_module_arrays(manager.detector.arrays(), model)
            modules = (("generator", manager.generator.generator), ("model", model))
        elif isinstance(manager, LocalSliceManager):
            model = build_local_model(self.config, self.shape.metrics, self.seed)
            load_module_arrays(manager.arrays(), model)
            modules = (("model", model),)
        else:
            modules = tuple(zip(("generator", "encoder"), manager.side.modules, strict=False))
        return {part: cpu_state(module) for part, module in modules}

    # --- slice manager ----------------------------------------------------------------------

    def add_slice_manager(
        self,
        name: str,
        remote: list[tuple[Any, list[str]]] | None,
        link: str | None,
        device: str,
        seed: int,
        samples: int,
        hosted: list[str] | None = None,
    ) -> str:
        """Host a generator side (group ``name``) training with remote monitors, or with hosted
        ones: ``hosted`` names them (default: every hosted monitor).

        Parameters
        ----------
        name
            Group name (the slice, the monitor in standalone mode, or ``controller``).
        remote
            Each hosting node's actor handle with the names of the monitors it hosts, or
            ``None`` to train with hosted monitors.
        link
            The link its messages to the monitors cross, or ``None`` where nothing is metered.
        device
            Torch device for G and E; ``auto`` picks ``cuda`` where one is visible.
        seed
            Seeds the initial weights of G and E (``cmsf-attae``: of G), and with ``name``
            their noise; the other local models do not use it.
        samples
            The group's training-set size Q_s, FedAvg's weight.
        hosted
            Names of the hosted monitors it trains with when ``remote`` is ``None``.

        Returns
        -------
        str
            The torch device that G and E were placed on (``auto`` becomes ``cuda`` where one
            is visible); ``cpu`` for the local models and CMSF-GAN's generator, which train on
            the CPU whatever ``device`` says.
        """
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        mine = [self.monitors[n] for n in (hosted if hosted is not None else self.monitors)]
        self.samples[name] = samples
        if self.config.name == "cmsf-attae":
            generating = RemoteGenerating(remote) if remote is not None else HostedGenerating(mine)
            initial = module_arrays(build_local_model(self.config, self.shape.metrics, self.seed))
            self.managers[name] = CmsfThenAttae(
                name, self.config, self.types, self.shape.metrics, seed,
                seed + stable_hash(name), initial, generating, link, self.payload,
            )  # fmt: skip
            return "cpu"
        if self.config.is_local:
            learners = RemoteLearners(remote) if remote is not None else HostedLearners(mine)
            self.managers[name] = LocalSliceManager(
                name, self.config, learners, link, self.payload.models
            )
            return "cpu"
        if remote is not None:
            group: RemoteMonitors | LocalMonitors = RemoteMonitors(remote)
        else:
            group = LocalMonitors(CoLocatedMonitors(mine, self.batch_critics))
        self.managers[name] = SliceManager(
            name, self.shape, self.config, seed, group, link, device, self.payload.generated
        )
        return device

    def train_learners(self, names: list[str], start: int, iterations: int) -> list[LocalRound]:
        """A slice round of each named hosted local-model monitor, in the order given.

        Parameters
        ----------
        names
            Hosted local-model monitors.
        start
            Number of the first iteration.
        iterations
            Optimizer steps of each monitor.

        Returns
        -------
        list of LocalRound
            Each monitor's losses, model, sample count and traffic, in the order of ``names``.

        Raises
        ------
        DivergenceError
            If a monitor's loss or, after its last step, a weight is not finite.
        """
        return [self.monitors[name].train(start, iterations) for name in names]

    def deliver_to_learners(self, names: list[str], arrays: list[np.ndarray]) -> None:
        """The named hosted local-model monitors take an average.

        Parameters
        ----------
        names
            Hosted local-model monitors.
        arrays
            The slice's (or the global) average.
        """
        for name in names:
            self.monitors[name].receive(arrays)

    def labelled(self, names: list[str]) -> list[str]:
        """The named hosted ``cmsf-attae`` monitors that have a discriminator."""
        return [name for name in names if self.monitors[name].critic is not None]

    def critic_step(self, iteration: int, payloads: dict[str, Arrays]) -> list[CriticExchange]:
        """One CMSF-GAN exchange of each named hosted monitor, in the order given.

        Parameters
        ----------
        iteration
            Number of the iteration, for error messages.
        payloads
            Typed fakes (``codes``, ``x_fake``) by name of a hosted labelled monitor.

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
        return [self.monitors[name].critic_step(iteration, p) for name, p in payloads.items()]

    def generator_to_learners(self, names: list[str], arrays: list[np.ndarray]) -> None:
        """The named hosted ``cmsf-attae`` monitors load G and generate their anomalies.

        Parameters
        ----------
        names
            Hosted ``cmsf-attae`` monitors.
        arrays
            G's arrays.
        """
        for name in names:
            self.monitors[name].take_generator(arrays)

    def train_round(self, group: str, start: int, iterations: int) -> None:
        """Run iterations of Algorithm 1 (or slice rounds of a local model) in a hosted group.

        Parameters
        ----------
        group
            The hosted group.
        start
            Number of the first iteration.
        iterations
            How many iterations to run.

        Raises
        ------
        DivergenceError
            If a loss, G's and E's reconstruction or a trained weight is not finite.
        """
        self.managers[group].train(start, iterations)

    def take_records(self, group: str) -> list[GroupRecord]:
        """A hosted group's iteration records since the last call (failed rounds' too)."""
        manager = self.managers[group]
        records, manager.records = manager.records, []
        return records

    def upload_model(
        self, group: str, link: str, part: slice
    ) -> tuple[list[np.ndarray], int, Traffic]:
        """A hosted group's model (G and E, or the average of its local models), or the
        ``part`` of its arrays a round trained, and Q_s, sent to the controller over ``link``;
        metered here.

        Parameters
        ----------
        group
            The hosted group.
        link
            The link to the controller.
        part
            Which of the model's arrays to send.

        Returns
        -------
        tuple
            The arrays as the controller receives them (at the models' precision), Q_s, and
            the upload's traffic.
        """
        manager = self.managers[group]
        arrays = manager.arrays()[part]
        samples = self.samples[group]
        message = {**positional(arrays), "num_examples": np.array(samples, dtype=np.int64)}
        received, sent = manager.meter.transmit(link, "up", message, self.payload.models)
        return from_positional(received, len(arrays)), samples, sent

    def generator_arrays(self, group: str) -> list[np.ndarray]:
        """A hosted group's model (G and E, or the local model)."""
        return self.managers[group].arrays()

    def send_model(
        self, group: str, link: str, copies: int, with_critic: str | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """A hosted group's model (and a hosted critic) sent down ``copies`` times over ``link``
        to the monitors that detect with it; metered here.

        A local model's average (not ``cmsf-attae``'s) also goes to the group's monitors.

        Parameters
        ----------
        group
            The hosted group.
        link
            The link the copies cross.
        copies
            How many copies to send and meter, one per monitor that detects with the model.
        with_critic
            A hosted monitor whose critic goes with a split model (centralized mode), or
            ``None``.

        Returns
        -------
        tuple
            The model as it arrives (at the models' precision), and the critic's arrays as
            they arrive, or ``None`` without one.
        """
        manager = self.managers[group]
        if isinstance(manager, CmsfThenAttae):
            return manager.send_model(copies, link), None
        arrays = manager.arrays()
        if isinstance(manager, LocalSliceManager):
            received, _ = manager.transmit_down(arrays, copies, link)
            manager.learners.deliver(received)
            return received, None
        critic = self.monitors[with_critic].critic.arrays() if with_critic else []
        message = positional(arrays + critic)
        received = message
        for _ in range(copies):
            received, _ = manager.meter.transmit(link, "down", message, self.payload.models)
        both = from_positional(received, len(message))
        return both[: len(arrays)], both[len(arrays) :] or None

    def load_generator_arrays(self, group: str, arrays: list[np.ndarray], first: int = 0) -> None:
        """Replace a hosted group's model, or for ``cmsf-attae`` the part of it from array
        ``first`` on, by the controller's FedAvg result.

        Parameters
        ----------
        group
            The hosted group.
        arrays
            The controller's FedAvg result: the whole model, or for ``cmsf-attae`` the part
            it sent.
        first
            Index of ``arrays[0]`` in the whole model; only ``cmsf-attae`` uses it.
        """
        manager = self.managers[group]
        if isinstance(manager, CmsfThenAttae):
            manager.load_part(arrays, first)
        else:  # a model trained in one phase always receives the whole of it
            manager.load_arrays(arrays)

    # --- accounting -------------------------------------------------------------------------

    def accounts(self) -> dict[str, Any]:
        """Traffic sent, compute time and memory, per tier hosted here."""
        monitor_meter, monitor_clock = Meter(), Stopwatch()
        peak_monitor = 0
        for monitor in self.monitors.values():
            monitor_meter.merge(monitor.meter)
            monitor_clock.add(monitor.stopwatch)
            peak_monitor = max(peak_monitor, sum(monitor.memory_bytes().values()))
        accounts: dict[str, Any] = {
            "monitor": {"meter": monitor_meter, "clock": monitor_clock, "memory": peak_monitor}
        }
        if self.managers:
            manager_meter, manager_clock = Meter(), Stopwatch()
            for manager in self.managers.values():
                manager_meter.merge(manager.meter)
                manager_clock.add(manager.stopwatch)
            accounts["slice_manager"] = {
                "meter": manager_meter,
                "clock": manager_clock,
                "memory": max(sum(m.memory_bytes().values()) for m in self.managers.values()),
            }
        return accounts
