"""Typed anomalies injected into metric series, labelled per step.

Seven types: the four faults of seed 002 (CPU endless loop, memory leak, disk I/O fault,
network congestion) and the three perturbations of seed 000 (sudden spike, periodic drift,
resource jitter). Each acts on the metrics of one family (cpu, memory, disk or network; where a
source has no metric of the family, on its ungrouped ``other`` metrics) and moves each metric
the way that fault shows on a real VM, through its role:

=================== ========= ===================================================================
type                family    effect
=================== ========= ===================================================================
cpu_endless_loop    cpu       usage and load step up within 3 steps and stay; idle falls
memory_leak         memory    used memory ramps up over the event; free and usable memory fall
disk_io_fault       disk      throughput stalls (falls, unevenly); await, queue and busy rise
network_congestion  network   bytes and packets fall; errors, drops and retransmissions rise
sudden_spike        cpu, net  1-3 steps at three times the intensity
periodic_drift      mem, cpu  an offset that grows over the event and oscillates
resource_jitter     any       step-to-step swings of random sign
=================== ========= ===================================================================

A change is ``intensity`` times the metric's standard deviation on the train part, times the
event's profile; values are clipped to the metric's physical bounds. Events do not overlap and
keep a gap of the minimum duration between them; the last event is cut short to meet the rate.
An event is labelled from the first to the last step it changed, and dropped if clipping left
nothing changed; steps already labelled by the source are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fedanomaly.config.schema import ANOMALY_TYPES, InjectionConfig
from fedanomaly.data.metrics import Family, MetricSpec, Role
from fedanomaly.errors import InputError

#: Type code 0 is normal, 1..7 the injected types, and the last code marks real labels.
LABELLED = "labelled"
TYPE_NAMES: tuple[str, ...] = ("normal", *ANOMALY_TYPES, LABELLED)
TYPE_CODES: dict[str, int] = {name: code for code, name in enumerate(TYPE_NAMES)}

Profile = Callable[[int, np.random.Generator], np.ndarray]


def plateau(duration: int, rng: np.random.Generator) -> np.ndarray:
    """Up within three steps, then flat.

    Parameters
    ----------
    duration
        Steps of the event.
    rng
        Random generator (not used; part of the :data:`Profile` signature).

    Returns
    -------
    numpy.ndarray
        One factor per step, shape ``(duration,)``.
    """
    return np.minimum(1.0, np.arange(1, duration + 1) / min(3, duration))


def ramp(duration: int, rng: np.random.Generator) -> np.ndarray:
    """Linear growth to 1.5 at the last step.

    Parameters
    ----------
    duration
        Steps of the event.
    rng
        Random generator (not used; part of the :data:`Profile` signature).

    Returns
    -------
    numpy.ndarray
        One factor per step, shape ``(duration,)``.
    """
    return 1.5 * np.arange(1, duration + 1) / duration


def stalls(duration: int, rng: np.random.Generator) -> np.ndarray:
    """A plateau whose height varies step to step between half and full.

    Parameters
    ----------
    duration
        Steps of the event.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        One factor per step, shape ``(duration,)``.
    """
    return plateau(duration, rng) * rng.uniform(0.5, 1.0, duration)


def flat(duration: int, rng: np.random.Generator) -> np.ndarray:
    """Full height at every step.

    Parameters
    ----------
    duration
        Steps of the event.
    rng
        Random generator (not used; part of the :data:`Profile` signature).

    Returns
    -------
    numpy.ndarray
        One factor per step, shape ``(duration,)``.
    """
    return np.ones(duration)


def oscillating_drift(duration: int, rng: np.random.Generator) -> np.ndarray:
    """A growing offset modulated by a sine of period about a third of the event.

    Parameters
    ----------
    duration
        Steps of the event.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        One factor per step, shape ``(duration,)``.
    """
    steps = np.arange(duration)
    period = max(4.0, duration / 3.0)
    growth = 0.3 + 0.7 * (steps + 1) / duration
    return growth * (1.0 + 0.8 * np.sin(2 * np.pi * steps / period + rng.uniform(0, 2 * np.pi)))


def swings(duration: int, rng: np.random.Generator) -> np.ndarray:
    """Random-sign swings between half and full height.

    Parameters
    ----------
    duration
        Steps of the event.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        One factor per step, shape ``(duration,)``.
    """
    return rng.choice((-1.0, 1.0), duration) * rng.uniform(0.5, 1.0, duration)


@dataclass(frozen=True)
class AnomalyKind:
    """How one anomaly type changes metrics.

    Parameters
    ----------
    name
        Type name.
    families
        Families it can act on; each event picks one of those the series has.
    signs
        Direction per metric role (+1 up, -1 down); roles not listed are left alone.
    profile
        Shape of the change over the event's steps.
    magnitude
        Multiplier on the configured intensity.
    short
        Lasts 1-3 steps whatever the configured duration.
    """

    name: str
    families: tuple[Family, ...]
    signs: dict[Role, float]
    profile: Profile
    magnitude: float = 1.0
    short: bool = False


UP, DOWN = 1.0, -1.0
LOADED = {Role.USAGE: UP, Role.THROUGHPUT: UP, Role.LATENCY: UP, Role.HEADROOM: DOWN}
ANOMALY_KINDS: dict[str, AnomalyKind] = {
    kind.name: kind
    for kind in (
        AnomalyKind(
            "cpu_endless_loop", (Family.CPU,), {Role.USAGE: UP, Role.HEADROOM: DOWN}, plateau
        ),
        AnomalyKind("memory_leak", (Family.MEMORY,), {Role.USAGE: UP, Role.HEADROOM: DOWN}, ramp),
        AnomalyKind(
            "disk_io_fault",
            (Family.DISK,),
            {Role.THROUGHPUT: DOWN, Role.LATENCY: UP, Role.USAGE: UP},
            stalls,
        ),
        AnomalyKind(
            "network_congestion",
            (Family.NETWORK,),
            {Role.THROUGHPUT: DOWN, Role.ERROR: UP, Role.LATENCY: UP, Role.USAGE: UP},
            plateau,
        ),
        AnomalyKind("sudden_spike", (Family.CPU, Family.NETWORK), LOADED, flat, 3.0, short=True),
        AnomalyKind("periodic_drift", (Family.MEMORY, Family.CPU), LOADED, oscillating_drift),
        AnomalyKind(
            "resource_jitter",
            (Family.CPU, Family.MEMORY, Family.DISK, Family.NETWORK),
            LOADED,
            swings,
            1.5,
        ),
    )
}


def anomaly_labels(types: np.ndarray) -> np.ndarray:
    """1 where a step's type code is not normal (0), else 0: the labels of typed steps."""
    return (np.asarray(types) != 0).astype(np.int8)


@dataclass(frozen=True)
class InjectedAnomaly:
    """One injected event: steps ``start:stop`` of metric ``columns``."""

    type: str
    start: int
    stop: int
    family: Family
    columns: tuple[int, ...]


@dataclass(frozen=True)
class Injection:
    """A series after injection, with a type code per step (0 normal, see :data:`TYPE_CODES`)."""

    values: np.ndarray
    types: np.ndarray
    events: tuple[InjectedAnomaly, ...]

    @property
    def labels(self) -> np.ndarray:
        """1 where a step is anomalous (injected or labelled by the source), else 0."""
        return anomaly_labels(self.types)


def affected_columns(
    kind: AnomalyKind, family: Family, metrics: tuple[MetricSpec, ...], scale: np.ndarray
) -> list[int]:
    """Columns of ``family`` whose role the kind moves and that vary in train data.

    Parameters
    ----------
    kind
        The anomaly type.
    family
        The family acted on.
    metrics
        Column specs of the series.
    scale
        Per-column standard deviation of the train part; a column with 0 is left out.

    Returns
    -------
    list of int
        Column indices, in column order.
    """
    return [
        j
        for j, metric in enumerate(metrics)
        if metric.family == family and metric.role in kind.signs and scale[j] > 0
    ]


def usable_families(
    kind: AnomalyKind, metrics: tuple[MetricSpec, ...], scale: np.ndarray
) -> list[Family]:
    """Families the kind can act on in this series: its own, else ``other``.

    Parameters
    ----------
    kind
        The anomaly type.
    metrics
        Column specs of the series.
    scale
        Per-column standard deviation of the train part.

    Returns
    -------
    list of Family
        The kind's families (in its order) that have a column it moves
        (:func:`affected_columns`); ``[Family.OTHER]`` or nothing where every metric is
        ``other``. Empty where no such column varies in the train part.

    Raises
    ------
    InputError
        If the series has metric families but none of the kind's (a configuration problem:
        set the source's ``column_groups`` or choose other types). A family whose metrics are
        flat in the train part is skipped without an error.
    """
    present = {m.family for m in metrics}
    if present == {Family.OTHER}:
        return [Family.OTHER] if affected_columns(kind, Family.OTHER, metrics, scale) else []
    if not present & set(kind.families):
        wanted = " or ".join(f.value for f in kind.families)
        raise InputError(
            f"anomaly type '{kind.name}' acts on {wanted} metrics and the data has none "
            "(set the source's column_groups, or choose other types: data.injection.types, "
            "or --inject in simulate, generate and the data commands)"
        )
    return [f for f in kind.families if affected_columns(kind, f, metrics, scale)]


def apply_event(
    values: np.ndarray,
    event: InjectedAnomaly,
    metrics: tuple[MetricSpec, ...],
    scale: np.ndarray,
    intensity: float,
    rng: np.random.Generator,
) -> None:
    """Change ``values`` in place over the event's steps and columns.

    Each column moves by its role's sign times the kind's magnitude, ``intensity``, its
    ``scale`` and the kind's profile, then is clipped to the metric's bounds.

    Parameters
    ----------
    values
        Series of shape ``(steps, metrics)`` in the source's units, float.
    event
        The event; its columns must have roles the kind moves (:func:`affected_columns`).
    metrics
        Column specs (role and bounds).
    scale
        Per-column standard deviation of the train part.
    intensity
        The configured intensity, in standard deviations.
    rng
        Random generator for the profile.
    """
    kind = ANOMALY_KINDS[event.type]
    profile = kind.profile(event.stop - event.start, rng)
    for j in event.columns:
        metric = metrics[j]
        change = kind.signs[metric.role] * kind.magnitude * intensity * scale[j] * profile
        segment = values[event.start : event.stop, j] + change
        low = -np.inf if metric.lower is None else metric.lower
        high = np.inf if metric.upper is None else metric.upper
        values[event.start : event.stop, j] = np.clip(segment, low, high)


def inject_anomalies(
    values: np.ndarray,
    metrics: tuple[MetricSpec, ...],
    scale: np.ndarray,
    config: InjectionConfig,
    rng: np.random.Generator,
    labelled: np.ndarray | None = None,
) -> Injection:
    """Inject typed anomalies into a copy of ``values``.

    Parameters
    ----------
    values
        Series of shape ``(steps, metrics)`` in the source's units.
    metrics
        Column specs (family, role, bounds).
    scale
        Per-column standard deviation of the train part; changes are multiples of it.
    config
        Types, rate, intensity and duration range.
    rng
        Random generator; the same state gives the same events.
    labelled
        Optional real labels of the series; those steps get the ``labelled`` code and no event.

    Returns
    -------
    Injection
        The changed copy, a type code per step and the list of events.
    """
    steps = values.shape[0]
    out = values.astype(np.float64, copy=True)
    types = np.zeros(steps, dtype=np.int8)
    if labelled is not None:
        types[labelled != 0] = TYPE_CODES[LABELLED]
    occupied = types != 0
    kinds = [ANOMALY_KINDS[name] for name in config.types]
    viable = [(k, fams) for k in kinds if (fams := usable_families(k, metrics, scale))]
    budget = round(config.rate * steps)
    low, high = config.duration
    gap = low
    events: list[InjectedAnomaly] = []
    injected = 0
    attempts = 0
    while viable and injected < budget and attempts < 200 + 20 * (budget // max(low, 1)):
        attempts += 1
        kind, families = viable[int(rng.integers(len(viable)))]
        span = rng.integers(1, 4) if kind.short else rng.integers(low, high + 1)
        duration = min(int(span), budget - injected, steps)
        start = int(rng.integers(0, steps - duration + 1))
        if occupied[max(0, start - gap) : start + duration + gap].any():
            continue
        family = families[int(rng.integers(len(families)))]
        columns = tuple(affected_columns(kind, family, metrics, scale))
        before = out[start : start + duration].copy()
        apply_event(out, InjectedAnomaly(kind.name, start, start + duration, family, columns),
                    metrics, scale, config.intensity, rng)  # fmt: skip
        changed = np.flatnonzero((out[start : start + duration] != before).any(axis=1))
        if changed.size == 0:  # clipped away entirely (e.g. a drop on a metric already at 0)
            continue
        event = InjectedAnomaly(
            kind.name, start + int(changed[0]), start + int(changed[-1]) + 1, family, columns
        )
        types[event.start : event.stop] = TYPE_CODES[kind.name]
        occupied[event.start : event.stop] = True
        events.append(event)
        injected += event.stop - event.start
    order = sorted(events, key=lambda e: e.start)
    return Injection(out, types, tuple(order))
