"""``fedanomaly generate``: train CMSF-GAN on a topology's monitors and generate anomalous
windows of a requested type, with the quality of what it generates.

The generator side and one critic side per monitor exchange what they would exchange across
the tiers (typed fakes down, dL_G/dX' up), in one process: each monitor's critic sees only its
own typed windows, the generator only the critics' feedback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedanomaly.config.schema import Topology
from fedanomaly.data.pipeline import MonitorData, prepare_monitors
from fedanomaly.data.typed_windows import TRAIN_PER_TYPE, labelled_windows, typed_windows
from fedanomaly.errors import InputError
from fedanomaly.evaluation.generation import GenerationQuality, generation_quality
from fedanomaly.files import write_atomically
from fedanomaly.models.cmsf import CmsfCriticSide, CmsfGeneratorSide
from fedanomaly.seeding import stable_hash

#: Real and generated windows per type for the quality measures.
EVALUATION_PER_TYPE = 200

IterationCallback = Callable[[int, float, float], None]


@dataclass(frozen=True)
class GeneratedAnomalies:
    """What ``generate`` produced: the windows, their type, and how good they are."""

    windows: np.ndarray
    type_name: str
    metrics: list[str]
    quality: GenerationQuality
    iterations: int
    training_seconds: float


def check_type(topology: Topology, type_name: str) -> int:
    """The index of ``type_name`` among the topology's injected types.

    Parameters
    ----------
    topology
        Its ``data.injection.types`` are the injected types.
    type_name
        The anomaly type asked for (``--type``).

    Returns
    -------
    int
        The position of ``type_name`` in ``data.injection.types``: the type index that CMSF-GAN
        is conditioned on.

    Raises
    ------
    InputError
        If the topology does not inject that type.
    """
    types = list(topology.data.injection.types)
    if type_name not in types:
        raise InputError(
            f"--type: {type_name} is not among the injected types of this topology "
            f"({', '.join(types)}; set data.injection.types)"
        )
    return types.index(type_name)


def check_batch(topology: Topology) -> None:
    """A batch must fit in a monitor's typed windows; known before any data is read, since
    every monitor draws :data:`~fedanomaly.data.typed_windows.TRAIN_PER_TYPE` per type.

    Parameters
    ----------
    topology
        Its ``model.batch_size`` M and ``data.injection.types``; the message names what set
        M (:meth:`~fedanomaly.config.schema.Topology.blamed`).

    Raises
    ------
    InputError
        If M is larger than a monitor's typed windows.
    """
    typed = TRAIN_PER_TYPE * len(topology.data.injection.types)
    if topology.model.batch_size > typed:
        message = (
            f"model.batch_size (M={topology.model.batch_size}) is larger than a monitor's "
            f"{typed} typed windows ({TRAIN_PER_TYPE} per injected type)"
        )
        raise InputError(topology.blamed(message, "model.batch_size"))


def labelled_names(topology: Topology) -> frozenset[str]:
    """The monitors whose labelled anomalies CMSF-GAN trains on.

    Parameters
    ----------
    topology
        Its monitors' ``labelled_anomalies``.

    Returns
    -------
    frozenset of str
        The names of the monitors with ``labelled_anomalies: true`` (the default).

    Raises
    ------
    InputError
        If no monitor has labelled anomalies.
    """
    names = frozenset(m.name for _, m in topology.monitors if m.labelled_anomalies)
    if not names:
        raise InputError(
            "no monitor has labelled anomalies for CMSF-GAN to train on (every monitor sets "
            "labelled_anomalies: false)"
        )
    return names


def train_cmsf(
    topology: Topology,
    monitors: list[MonitorData],
    on_iteration: IterationCallback | None = None,
) -> CmsfGeneratorSide:
    """CMSF-GAN trained against one critic per monitor for ``model.iterations`` iterations.

    Parameters
    ----------
    topology
        The model settings (T, M, K, ...), the injected types and the seed.
    monitors
        The monitors' prepared data; each critic trains on its monitor's labelled typed
        windows, drawn from its train part.
    on_iteration
        Called after each iteration with the iterations done and the critic's and the
        generator's loss, each the mean over the monitors.

    Returns
    -------
    CmsfGeneratorSide
        The trained generator.

    Raises
    ------
    InputError
        If a batch is larger than a monitor's typed windows, a type has no metric to act on in
        a monitor's data, or a loss is not finite (naming the monitor and iteration).
    """
    m, seed = topology.model, topology.seed
    types = len(topology.data.injection.types)
    check_batch(topology)
    critics = []
    for monitor in monitors:
        windows, codes = labelled_windows(monitor, topology.data.injection, m.window_length, seed)
        critics.append(CmsfCriticSide(windows, codes, types, m, seed + stable_hash(monitor.name)))
    generator = CmsfGeneratorSide(types, len(monitors[0].metrics), m, seed)
    for iteration in range(m.iterations):
        payloads = generator.propose([m.batch_size] * len(critics))
        results = [critic.train(p) for critic, p in zip(critics, payloads, strict=True)]
        for monitor, (d_loss, g_loss, _) in zip(monitors, results, strict=True):
            if not (np.isfinite(d_loss) and np.isfinite(g_loss)):
                raise InputError(
                    f"monitor {monitor.name}: CMSF-GAN discriminator loss {d_loss:g}, generator "
                    f"loss {g_loss:g} at iteration {iteration}"
                )
        generator.update([feedback for _, _, feedback in results])
        if on_iteration is not None:
            on_iteration(iteration + 1, float(np.mean([r[0] for r in results])),
                         float(np.mean([r[1] for r in results])))  # fmt: skip
    return generator


def generate_anomalies(
    topology: Topology,
    type_name: str,
    count: int,
    on_iteration: IterationCallback | None = None,
    prepared: list[MonitorData] | None = None,
) -> GeneratedAnomalies:
    """Train CMSF-GAN on the topology's monitors with labelled anomalies (one critic each),
    generate ``count`` windows of ``type_name`` and measure generation quality over every type
    against real typed windows cut and injected afresh (other windows and events of the same
    train parts).

    Parameters
    ----------
    topology
        The resolved topology: its monitors' data, model settings, injected types and seed.
    type_name
        The anomaly type to generate; one of ``data.injection.types``.
    count
        Windows to generate.
    on_iteration
        Called after each training iteration (see :func:`train_cmsf`).
    prepared
        The monitors' data as :func:`~fedanomaly.data.pipeline.prepare_monitors` gives them
        for ``topology``; prepared here when not given.

    Returns
    -------
    GeneratedAnomalies
        The windows ``(count, T, d)`` in the monitors' min-max scaled units, the metric names,
        the quality over :data:`EVALUATION_PER_TYPE` generated and real windows per type, and
        the training's iterations and wall-clock seconds.

    Raises
    ------
    InputError
        If the topology does not inject ``type_name``, no monitor has labelled anomalies,
        for bad data, or for what :func:`train_cmsf` refuses.
    """
    code = check_type(topology, type_name)
    labelled = labelled_names(topology)
    prepared = prepare_monitors(topology, set(labelled)) if prepared is None else prepared
    monitors = [monitor.for_training() for monitor in prepared if monitor.name in labelled]
    started = time.perf_counter()
    generator = train_cmsf(topology, monitors, on_iteration)
    seconds = time.perf_counter() - started
    injection, length, seed = topology.data.injection, topology.model.window_length, topology.seed
    per_monitor = -(-EVALUATION_PER_TYPE // len(monitors))
    fresh_real = [
        typed_windows(m, injection, length, per_monitor,
                      np.random.default_rng([seed, stable_hash(m.name), 2]))
        for m in monitors
    ]  # fmt: skip
    real = np.concatenate([w for w, _ in fresh_real])
    real_codes = np.concatenate([c for _, c in fresh_real])
    requested = np.repeat(np.arange(len(injection.types)), EVALUATION_PER_TYPE)
    quality = generation_quality(
        real, real_codes, generator.generate(requested), requested, list(injection.types), seed
    )
    return GeneratedAnomalies(
        windows=generator.generate(np.full(count, code, dtype=np.int64)),
        type_name=type_name,
        metrics=[metric.name for metric in monitors[0].metrics],
        quality=quality,
        iterations=topology.model.iterations,
        training_seconds=seconds,
    )


def write_generated(result: GeneratedAnomalies, out: Path) -> None:
    """``out`` as a ``.npz`` with ``windows`` (count, T, d; the monitors' min-max scaled
    units), ``type`` and ``metrics``, written through a temporary file.

    Parameters
    ----------
    result
        What :func:`generate_anomalies` produced.
    out
        The file to write; a missing folder is made.

    Raises
    ------
    InputError
        If ``out`` is a folder, or its folder is a file or cannot be created or written.
    """

    def write(path: Path) -> None:
        with path.open("wb") as stream:  # a stream: np.savez would append .npz to a name
            np.savez(stream, windows=result.windows, type=np.array(result.type_name),
                     metrics=np.array(result.metrics))  # fmt: skip

    write_atomically(out, write)
