"""``synthetic-vnf``: built-in VM resource metrics with the 26-metric schema of seed 002.

Each slice has one shared load curve (daily and weekly seasonality plus a slow random walk);
each VM carries a share of it with its own scale, offset, capacities and noise. Metrics of a
family follow from the VM's load through the relations that tie them on a real host: CPU
percentages add up to 100, free memory is total minus used minus cache, disk queue length
follows Little's law from IOPS and await, and await grows with utilisation as in a single-server
queue; packet counts follow bytes over a packet size, and errors and drops are Poisson counts
that grow with traffic. Everything is drawn from generators seeded by (seed, slice, VM), so the
same names and seed give the same numbers, whatever else is generated.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from fedanomaly.config.schema import SyntheticVnfConfig
from fedanomaly.data.metrics import VNF_METRICS
from fedanomaly.data.series import EntityData, MetricSeries
from fedanomaly.data.sources.base import DataSource
from fedanomaly.seeding import stable_hash

DAY_SECONDS = 86_400.0
WEEK_SECONDS = 7 * DAY_SECONDS


def ar1(
    rng: np.random.Generator, length: int, phi: float, std: float, step_minutes: float = 1.0
) -> np.ndarray:
    """A stationary AR(1) series with marginal standard deviation ``std``.

    ``phi`` is the coefficient per minute; a step of ``step_minutes`` uses ``phi**step_minutes``.

    Parameters
    ----------
    rng
        Draws the start value and the shocks.
    length
        Steps.
    phi
        Coefficient per minute, 0 <= phi < 1.
    std
        Marginal standard deviation.
    step_minutes
        Minutes between two steps.

    Returns
    -------
    numpy.ndarray
        The series, shape ``(length,)``, zero mean.
    """
    phi = phi**step_minutes
    shocks = rng.normal(0.0, std * np.sqrt(1.0 - phi * phi), length)
    start = rng.normal(0.0, std)
    return lfilter([1.0], [1.0, -phi], shocks, zi=[phi * start])[0]


def ema(values: np.ndarray, minutes: float, step_minutes: float = 1.0) -> np.ndarray:
    """Exponential moving average with a time constant in minutes, started at the first value.

    Parameters
    ----------
    values
        1-D series.
    minutes
        Time constant; at most one step's worth gives the series back unchanged.
    step_minutes
        Minutes between two steps.

    Returns
    -------
    numpy.ndarray
        The average, same shape as ``values``.
    """
    alpha = 1.0 / max(minutes / step_minutes, 1.0)
    return lfilter([alpha], [1.0, alpha - 1.0], values, zi=[(1.0 - alpha) * values[0]])[0]


def step_minutes(seconds: np.ndarray) -> float:
    """Minutes between two samples."""
    return float(seconds[1] - seconds[0]) / 60.0 if seconds.size > 1 else 1.0


def slice_load(seed: int, slice_name: str, seconds: np.ndarray, noise: float) -> np.ndarray:
    """The load shared by all VMs of a slice, in [0.02, 1].

    Parameters
    ----------
    seed
        Topology seed; with ``slice_name`` it seeds the generator.
    slice_name
        The slice.
    seconds
        Sample times in seconds, evenly spaced.
    noise
        Multiplies the random walk.

    Returns
    -------
    numpy.ndarray
        One load value per sample time.
    """
    rng = np.random.default_rng([seed, stable_hash(slice_name), 0])
    peak = rng.uniform(10, 20) * 3600.0
    second_peak = rng.uniform(0, 24) * 3600.0
    level = rng.uniform(0.35, 0.55)
    daily = 0.28 * np.cos(2 * np.pi * (seconds - peak) / DAY_SECONDS)
    daily += 0.07 * np.cos(4 * np.pi * (seconds - second_peak) / DAY_SECONDS)
    weekly = 0.06 * np.cos(2 * np.pi * seconds / WEEK_SECONDS)
    drift = ar1(rng, seconds.size, 0.995, 0.05 * noise, step_minutes(seconds))
    return np.clip(level + daily + weekly + drift, 0.02, 1.0)


class SyntheticVnfSource(DataSource):
    """Generated VM metrics: any VM name, any length, deterministic by seed.

    Parameters
    ----------
    config
        Length, sample period and noise level.
    seed
        Seed of the topology; with the slice and VM names it fixes every number.
    """

    type_name = "synthetic-vnf"

    def __init__(self, config: SyntheticVnfConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self._slice_loads: dict[str, np.ndarray] = {}

    @property
    def label(self) -> str:
        return self.type_name

    def load(self, entity: str, slice_name: str) -> EntityData:
        """Generate one VM.

        Parameters
        ----------
        entity
            The VM's name; any name goes.
        slice_name
            The slice; its load is generated once and shared by its VMs.

        Returns
        -------
        EntityData
            ``config.length`` steps of the :data:`~fedanomaly.data.metrics.VNF_METRICS`, with
            timestamps in seconds from 0; no labels and no published test part.
        """
        seconds = np.arange(self.config.length, dtype=np.float64) * self.config.step_seconds
        if slice_name not in self._slice_loads:
            self._slice_loads[slice_name] = slice_load(
                self.seed, slice_name, seconds, self.config.noise
            )
        values = generate_vm(
            np.random.default_rng([self.seed, stable_hash(slice_name), stable_hash(entity)]),
            self._slice_loads[slice_name],
            seconds,
            self.config.noise,
        )
        return EntityData(entity, MetricSeries(values, VNF_METRICS, timestamps=seconds))


def generate_vm(
    rng: np.random.Generator, shared: np.ndarray, seconds: np.ndarray, noise: float
) -> np.ndarray:
    """The 26 metrics of one VM that carries a share of the slice load ``shared``.

    ``seconds`` are the sample times; every time constant is in minutes, so a coarser
    ``step_seconds`` gives the same process sampled less often. ``noise`` multiplies every random
    term; at 0 counts take their expected value.

    Parameters
    ----------
    rng
        The VM's generator (seeded by seed, slice and VM).
    shared
        The slice load (:func:`slice_load`), one value per step.
    seconds
        Sample times in seconds, evenly spaced.
    noise
        Multiplier on every random term.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(shared), 26)``, columns in the order of ``VNF_METRICS``.
    """
    n = shared.size
    k = noise
    minutes = step_minutes(seconds)

    def slow(phi: float, std: float) -> np.ndarray:
        """A slow :func:`ar1` term of the VM.

        Parameters
        ----------
        phi
            Coefficient per minute.
        std
            Standard deviation at ``noise`` 1.

        Returns
        -------
        numpy.ndarray
            One value per step.
        """
        return ar1(rng, n, phi, std * k, minutes)

    def counts(mean: np.ndarray) -> np.ndarray:
        return rng.poisson(mean).astype(np.float64) if k > 0 else mean

    def lognormal(sigma: float) -> np.ndarray:
        return rng.lognormal(0.0, sigma * k, n) if k > 0 else np.ones(n)

    def normal(std: float) -> np.ndarray:
        return rng.normal(0.0, std * k, n)

    # The VM: its share of the slice load and its capacities.
    scale, offset = rng.uniform(0.6, 1.3), rng.uniform(-0.05, 0.1)
    load = np.clip(scale * shared + offset + slow(0.95, 0.04) + normal(0.015), 0.01, 1.0)
    cores = rng.choice([2.0, 4.0, 8.0])
    total_mb = rng.choice([4096.0, 8192.0, 16384.0])
    max_iops = rng.uniform(150, 450)
    max_bytes = rng.uniform(2e6, 2e7)
    service_ms = rng.uniform(2.0, 6.0)

    # CPU: user (implied), system, wait, stolen and idle add up to 100 %.
    io_load = np.clip(0.7 * load + slow(0.9, 0.08) + 0.1, 0.0, 1.0)
    user = np.clip(55.0 * load + normal(1.5), 0.0, 100.0)
    system = np.clip(3.0 + 15.0 * load + normal(0.8), 0.0, 100.0)
    wait = np.clip(0.5 + 4.0 * io_load + np.abs(normal(0.4)), 0.0, 100.0)
    stolen = np.clip(0.2 + 1.5 * shared * rng.uniform(0.5, 1.5) + np.abs(normal(0.2)), 0.0, 100.0)
    idle = np.clip(100.0 - user - system - wait - stolen, 0.0, 100.0)

    # Disk: IOPS follow I/O load, await grows with utilisation, queues follow Little's law.
    read_iops = max_iops * 0.55 * io_load * lognormal(0.1)
    write_iops = max_iops * 0.35 * (0.3 + 0.7 * io_load) * lognormal(0.1)
    utilisation = np.clip((read_iops + write_iops) / max_iops, 0.0, 0.9)
    await_ms = service_ms / (1.0 - utilisation) * lognormal(0.08)
    read_kbps = read_iops * rng.uniform(16, 64) * lognormal(0.05)
    write_kbps = write_iops * rng.uniform(8, 32) * lognormal(0.05)
    read_queue = read_iops * await_ms / 1000.0
    write_queue = write_iops * await_ms / 1000.0
    day_fraction = (seconds % DAY_SECONDS) / DAY_SECONDS  # logs grow, rotated at midnight
    used_pct = np.clip(rng.uniform(30, 70) + 2.0 * day_fraction + normal(0.05), 0.0, 100.0)

    # Memory: used follows load slowly; free = total - used - cache; load averages follow CPU.
    used_mb = total_mb * (rng.uniform(0.2, 0.35) + 0.35 * ema(load, 30.0, minutes))
    used_mb += total_mb * slow(0.98, 0.01)
    used_mb = np.clip(used_mb, 0.05 * total_mb, 0.95 * total_mb)
    cache_mb = np.clip((total_mb - used_mb) * (0.4 + 0.1 * slow(0.99, 0.5)), 0.0, None)
    free_mb = total_mb - used_mb - cache_mb
    usable_mb = total_mb - used_mb
    usable_pct = 100.0 * usable_mb / total_mb
    busy = (100.0 - idle) / 100.0
    load_1m = np.clip(ema(cores * busy, 1.0, minutes) + np.abs(normal(0.05)), 0.0, None)
    load_5m = ema(load_1m, 5.0, minutes)

    # Network: bytes follow load, packets follow bytes, errors and drops are Poisson counts.
    net_load = np.clip(0.85 * load + slow(0.9, 0.05), 0.0, 1.0)
    in_bytes = max_bytes * net_load * lognormal(0.08)
    out_bytes = rng.uniform(0.6, 1.6) * in_bytes * lognormal(0.05)
    in_packets = in_bytes / rng.uniform(500, 1000)
    out_packets = out_bytes / rng.uniform(500, 1000)
    in_errors = counts(0.3 + 2e-5 * in_packets)
    out_errors = counts(0.2 + 1e-5 * out_packets)
    dropped = counts(0.5 + 3e-5 * in_packets * net_load**2)

    columns = (
        idle, wait, system, stolen,
        used_pct, read_queue, write_queue, read_iops, write_iops, read_kbps, write_kbps, await_ms,
        load_1m, load_5m, usable_pct, usable_mb, free_mb, used_mb, np.full(n, total_mb),
        in_bytes, out_bytes, in_packets, out_packets, in_errors, out_errors, dropped,
    )  # fmt: skip
    return np.column_stack(columns)
