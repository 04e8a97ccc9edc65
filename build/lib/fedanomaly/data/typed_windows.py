"""Windows that each carry one injected anomaly of a known type: the labelled anomalies a
monitor trains CMSF-GAN on (seed 000), and the real windows its generated ones are compared
with.

A window is cut at random from a VM's train part, taken back to source units with the VM's
scaler, changed by one event of the type (the injection of :mod:`fedanomaly.data.injection`,
with its intensity and duration range, cut to the window) and scaled again.
"""

from __future__ import annotations

import numpy as np

from fedanomaly.config.schema import InjectionConfig
from fedanomaly.data.injection import (
    ANOMALY_KINDS,
    InjectedAnomaly,
    affected_columns,
    apply_event,
    usable_families,
)
from fedanomaly.data.pipeline import MonitorData, VMData
from fedanomaly.errors import InputError
from fedanomaly.seeding import stable_hash

#: Typed windows per type that a monitor's CMSF-GAN discriminator trains on.
TRAIN_PER_TYPE = 64


def vm_train_values(vm: VMData) -> tuple[np.ndarray, np.ndarray]:
    """A VM's train part in source units and its per-metric standard deviation."""
    values = vm.scaler.inverse_transform(vm.train.scaled.astype(np.float64))
    return values, values.std(axis=0)


def typed_windows(
    monitor: MonitorData,
    injection: InjectionConfig,
    length: int,
    per_type: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``per_type`` windows of each type of ``injection.types``, scaled like the monitor's data.

    Parameters
    ----------
    monitor
        The monitor; windows are cut from the train parts of its VMs.
    injection
        Types, intensity and duration range; an event is cut to the window.
    length
        Steps per window (T).
    per_type
        Windows per type.
    rng
        Draws the VM, the window, the event and its family.

    Returns
    -------
    tuple
        Windows ``(k * per_type, T, d)`` float32 and their type index (position in
        ``injection.types``) as int64.

    Raises
    ------
    InputError
        If no VM of the monitor has a metric the type can act on and a train part of at least
        ``length`` steps, or a VM's series has metric families but none of the type's
        (:func:`~fedanomaly.data.injection.usable_families`).
    """
    train = {vm.name: vm_train_values(vm) for vm in monitor.vms}
    low, high = injection.duration
    windows, codes = [], []
    for code, name in enumerate(injection.types):
        kind = ANOMALY_KINDS[name]
        usable = [
            (vm, families)
            for vm in monitor.vms
            if (families := usable_families(kind, vm.metrics, train[vm.name][1]))
            and len(vm.train) >= length
        ]
        if not usable:
            raise InputError(f"monitor {monitor.name}: no VM has a metric that {name} changes")
        for _ in range(per_type):
            vm, families = usable[int(rng.integers(len(usable)))]
            values, scale = train[vm.name]
            start = int(rng.integers(0, len(values) - length + 1))
            window = values[start : start + length].copy()
            span = int(rng.integers(1, 4)) if kind.short else int(rng.integers(low, high + 1))
            span = min(span, length)
            first = int(rng.integers(0, length - span + 1))
            family = families[int(rng.integers(len(families)))]
            columns = tuple(affected_columns(kind, family, vm.metrics, scale))
            event = InjectedAnomaly(name, first, first + span, family, columns)
            apply_event(window, event, vm.metrics, scale, injection.intensity, rng)
            windows.append(vm.scaler.transform(window).astype(np.float32))
            codes.append(code)
    return np.stack(windows), np.asarray(codes, dtype=np.int64)


def labelled_windows(
    monitor: MonitorData, injection: InjectionConfig, length: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The labelled anomalies a monitor's CMSF-GAN discriminator trains on:
    :data:`TRAIN_PER_TYPE` typed windows per type, drawn with the run ``seed`` and its name.

    Parameters
    ----------
    monitor
        The monitor.
    injection
        Types, intensity and duration range.
    length
        Steps per window (T).
    seed
        The run's seed.

    Returns
    -------
    tuple
        As :func:`typed_windows`.

    Raises
    ------
    InputError
        As :func:`typed_windows`.
    """
    rng = np.random.default_rng([seed, stable_hash(monitor.name), 1])
    return typed_windows(monitor, injection, length, TRAIN_PER_TYPE, rng)
