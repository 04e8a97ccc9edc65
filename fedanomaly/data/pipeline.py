"""From a topology to the data each VM monitor holds: load, split, inject, scale.

For each monitor and each of its VMs: the source's series is cut into time-ordered train,
validation and test parts; typed anomalies go into the validation and test parts (never train);
a min-max scaler is fitted on the train part and maps all three. Windows are cut per part, so
no window spans two parts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import MinMaxScaler

from fedanomaly.config.schema import DataConfig, SourceConfig, Topology
from fedanomaly.data.injection import (
    TYPE_CODES,
    InjectedAnomaly,
    anomaly_labels,
    inject_anomalies,
)
from fedanomaly.data.metrics import MetricSpec
from fedanomaly.data.preprocessing import (
    SPLITS,
    SplitSeries,
    fit_scaler,
    make_windows,
    split_entity,
)
from fedanomaly.data.series import EntityData
from fedanomaly.data.sources import DataSource, open_source
from fedanomaly.errors import InputError
from fedanomaly.seeding import stable_hash


@dataclass(frozen=True)
class PartData:
    """One part (train, validation or test) of one VM, after injection and scaling.

    Attributes
    ----------
    raw
        Values in the source's units, anomalies included, shape ``(steps, metrics)``;
        ``None`` in data prepared for training (:meth:`MonitorData.for_training`).
    scaled
        The same values mapped by the train part's min-max scaler, float32.
    types
        Type code per step: 0 normal, else an index of
        :data:`fedanomaly.data.injection.TYPE_NAMES`.
    events
        Injected anomalies.
    timestamps
        Source timestamps, if the source has them.
    """

    raw: np.ndarray | None
    scaled: np.ndarray
    types: np.ndarray
    events: tuple[InjectedAnomaly, ...]
    timestamps: np.ndarray | None

    @property
    def labels(self) -> np.ndarray:
        """1 for an anomalous step, else 0."""
        return anomaly_labels(self.types)

    def __len__(self) -> int:
        return int(self.scaled.shape[0])


@dataclass(frozen=True)
class VMData:
    """A VM's three parts and the scaler fitted on its train part."""

    name: str
    metrics: tuple[MetricSpec, ...]
    train: PartData
    validation: PartData
    test: PartData
    scaler: MinMaxScaler

    def part(self, split: str) -> PartData:
        """The part named ``split``."""
        return getattr(self, split)

    def beyond_train_range(self, split: str) -> np.ndarray:
        """Which steps of a part have a metric outside the range it took in the train part.

        Parameters
        ----------
        split
            The part: ``train``, ``validation`` or ``test``.

        Returns
        -------
        numpy.ndarray
            One bool per step: some metric is below its train minimum or above its train
            maximum (compared on the float32 scaled values, so a value within float32
            rounding of a bound counts as inside).
        """
        train = self.train.scaled
        values = self.part(split).scaled
        return ((values < train.min(axis=0)) | (values > train.max(axis=0))).any(axis=1)

    def for_training(self) -> VMData:
        """The VM without its values in source units (training and detection use the scaled
        values only)."""
        parts = {s: dataclasses.replace(self.part(s), raw=None) for s in SPLITS}
        return dataclasses.replace(self, **parts)


@dataclass(frozen=True)
class MonitorData:
    """Everything a VM monitor holds locally."""

    name: str
    slice_name: str
    source: str
    vms: tuple[VMData, ...]

    @property
    def metrics(self) -> tuple[MetricSpec, ...]:
        """Column specs (the same for all VMs of a monitor)."""
        return self.vms[0].metrics

    def for_training(self) -> MonitorData:
        """The monitor's data without values in source units: what a simulation holds and
        ships to its nodes (a third of the memory of the full data)."""
        return dataclasses.replace(self, vms=tuple(vm.for_training() for vm in self.vms))

    def beyond_train_range(self, split: str) -> np.ndarray:
        """Which steps of a part, over all VMs, have a metric outside its training range.

        Returns
        -------
        numpy.ndarray
            :meth:`VMData.beyond_train_range` of ``split`` for each VM, concatenated in the
            order of the VMs (that of the part's scores and types).
        """
        return np.concatenate([vm.beyond_train_range(split) for vm in self.vms])

    def windows(self, split: str, length: int, stride: int) -> np.ndarray:
        """Scaled windows of one part over all VMs, shape ``(count, length, metrics)``: a
        read-only view of the part for a single VM, a copy over several.

        Parameters
        ----------
        split
            The part: ``train``, ``validation`` or ``test``.
        length
            Steps per window.
        stride
            Steps between the starts of consecutive windows.

        Returns
        -------
        numpy.ndarray
            The windows of each VM in turn, float32; no window spans two VMs.

        Raises
        ------
        InputError
            If a VM's part is shorter than ``length``.
        """
        windows = [
            make_windows(
                vm.part(split).scaled,
                length,
                stride,
                f"monitor {self.name}, VM {vm.name}, {split} part",
            )
            for vm in self.vms
        ]
        return windows[0] if len(windows) == 1 else np.concatenate(windows)


def injected_splits(config: DataConfig, has_real_test_labels: bool) -> tuple[str, ...]:
    """The parts that get injected anomalies; ``auto`` leaves a test part alone that carries
    real labels (at least one anomalous step: a test part whose labels are all 0 would have
    nothing to find).

    Parameters
    ----------
    config
        The data settings; ``injection.splits`` is read.
    has_real_test_labels
        Whether the test part carries real labels with at least one anomalous step.

    Returns
    -------
    tuple of str
        The part names, as configured; for ``auto``, ``validation`` and ``test``, or only
        ``validation`` where ``has_real_test_labels``.
    """
    if config.injection.splits != "auto":
        return tuple(config.injection.splits)
    return ("validation",) if has_real_test_labels else ("validation", "test")


def prepare_vm(entity: EntityData, where: str, topology: Topology, monitor: str) -> VMData:
    """Split, inject and scale one VM's data; ``where`` names it in errors.

    Parameters
    ----------
    entity
        The VM's data as the source loaded it.
    where
        What to name in errors (the source and the entity).
    topology
        Gives the split, the injection settings, the seed and ``model.window_length``.
    monitor
        Name of the monitor that holds the VM; with the seed, the entity name and the part it
        seeds the injection, so each part gets its own events.

    Returns
    -------
    VMData
        The three parts and the min-max scaler fitted on the train part.

    Raises
    ------
    InputError
        If a part is empty or shorter than one window (``model.window_length``), or the series
        has metric families but none of an injected type's
        (:func:`~fedanomaly.data.injection.usable_families`).
    """
    config, seed, length = topology.data, topology.seed, topology.model.window_length
    parts: SplitSeries = split_entity(entity, config.split, where)
    for split in SPLITS:
        steps = len(parts.part(split))
        if steps < length:
            raise InputError(
                f"{where}: the {split} part has {steps} steps, fewer than one window "
                f"(model.window_length {length})"
            )
    train = parts.train.values
    scale = train.std(axis=0)
    scaler = fit_scaler(train)
    labels = parts.test.labels
    targets = injected_splits(config, labels is not None and bool(labels.any()))
    prepared = {}
    for index, split in enumerate(SPLITS):
        series = parts.part(split)
        if split in targets:
            rng = np.random.default_rng(
                [seed, stable_hash(monitor), stable_hash(entity.name), index]
            )
            injection = inject_anomalies(
                series.values, series.metrics, scale, config.injection, rng, series.labels
            )
            raw, types, events = injection.values, injection.types, injection.events
        else:
            raw, events = series.values, ()
            types = np.zeros(len(series), dtype=np.int8)
            if series.labels is not None:
                types[series.labels != 0] = TYPE_CODES["labelled"]
        scaled = scaler.transform(raw).astype(np.float32)
        prepared[split] = PartData(raw, scaled, types, events, series.timestamps)
    return VMData(entity.name, parts.train.metrics, scaler=scaler, **prepared)


class SourceCache:
    """Opens each distinct source config once and remembers loaded entities."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._sources: dict[str, DataSource] = {}

    def source(self, config: SourceConfig) -> DataSource:
        """The opened source for ``config``."""
        key = config.model_dump_json()
        if key not in self._sources:
            self._sources[key] = open_source(config, self.seed)
        return self._sources[key]


def assign_entities(topology: Topology, cache: SourceCache) -> dict[str, list[str]]:
    """The VMs of each monitor: as named, else the source's next entity no monitor names or
    holds (the named VMs are set aside first, wherever their monitors stand in the file).

    Parameters
    ----------
    topology
        The topology; each monitor reads its own source, else ``data.source``.
    cache
        Opens the sources.

    Returns
    -------
    dict
        Monitor name -> the names of its VMs. A monitor of a source that takes any name
        (generated data) and names no VM holds one named after itself.

    Raises
    ------
    InputError
        If a source cannot be opened, a named VM is not in the source, a VM is named by two
        monitors, or the source has fewer entities than there are monitors.
    """
    monitors = []
    for (s, m), (_, monitor) in zip(positions(topology), topology.monitors, strict=True):
        where = f"slices[{s}].monitors[{m}] ({monitor.name})"
        try:
            source = cache.source(monitor.source or topology.data.source)
        except InputError as error:
            own = f"slices[{s}].monitors[{m}].source" if monitor.source else "data.source"
            raise InputError(f"{own}: {error}") from None
        monitors.append((where, monitor, source, source.entities()))
    holder: dict[tuple[str, str], str] = {}
    for where, monitor, source, available in monitors:
        # generated data: a monitor that names no VM holds one named after itself
        named = monitor.vms or ([] if available is not None else [monitor.name])
        for vm in named:
            if available is not None and vm not in available:
                shown = ", ".join(available[:6]) + (", ..." if len(available) > 6 else "")
                raise InputError(f"{where}: VM '{vm}' is not in {source.label} (has {shown})")
            if (source.label, vm) in holder:
                raise InputError(
                    f"{where}: VM '{vm}' is already held by monitor {holder[(source.label, vm)]}"
                )
            holder[(source.label, vm)] = monitor.name
    assigned: dict[str, list[str]] = {}
    for where, monitor, source, available in monitors:
        if monitor.vms or available is None:
            assigned[monitor.name] = list(monitor.vms) or [monitor.name]
        else:
            free = [e for e in available if (source.label, e) not in holder]
            if not free:
                raise InputError(
                    f"{where}: no VM left: {source.label} has {len(available)} entities for "
                    f"{len(topology.monitors)} monitors; name the VMs of each monitor or "
                    "use data.partition: split"
                )
            holder[(source.label, free[0])] = monitor.name
            assigned[monitor.name] = [free[0]]
    return assigned


def positions(topology: Topology) -> list[tuple[int, int]]:
    """(slice index, monitor index) of every monitor, in topology order."""
    return [(s, m) for s, slice_ in enumerate(topology.slices) for m in range(len(slice_.monitors))]


def split_share(entity: EntityData, index: int, count: int) -> EntityData:
    """The ``index``-th of ``count`` contiguous parts of an entity (test part cut alike).

    Parameters
    ----------
    entity
        The whole series.
    index
        0-based index of the share.
    count
        Number of shares.

    Returns
    -------
    EntityData
        Rows ``len * index // count`` to ``len * (index + 1) // count`` of the series (and of
        the test part, if any), named ``<name>[<index + 1>/<count>]``.
    """

    def share(length: int) -> tuple[int, int]:
        return length * index // count, length * (index + 1) // count

    series = entity.series.rows(*share(len(entity.series)))
    test = entity.test.rows(*share(len(entity.test))) if entity.test is not None else None
    return EntityData(f"{entity.name}[{index + 1}/{count}]", series, test)


def split_entity_name(topology: Topology, cache: SourceCache) -> str:
    """For ``partition: split``: the name of the series of ``data.source`` that monitors share.

    Parameters
    ----------
    topology
        The topology; ``data.source`` and ``data.entity`` are read.
    cache
        Opens the source.

    Returns
    -------
    str
        ``data.entity``, else the source's first entity, else ``series`` for a source that
        takes any name.

    Raises
    ------
    InputError
        If the source cannot be opened, or the name is not one of the source's entities.
    """
    source = cache.source(topology.data.source)
    available = source.entities()
    name = topology.data.entity or (available[0] if available else "series")
    if available is not None and name not in available:
        raise InputError(f"data.entity: '{name}' is not in {source.label}")
    return name


def monitor_vms(topology: Topology, cache: SourceCache) -> dict[str, list[str]]:
    """The VMs of each monitor (:func:`assign_entities`), without reading any series; under
    ``partition: split`` none, the name of the one series checked instead
    (:func:`split_entity_name`).

    Parameters
    ----------
    topology
        The topology.
    cache
        Its sources, opened once.

    Returns
    -------
    dict
        Monitor name -> the names of its VMs; empty under ``partition: split``.

    Raises
    ------
    InputError
        As :func:`assign_entities` or :func:`split_entity_name`, after the topology's file
        (:meth:`~fedanomaly.config.schema.Topology.blamed`).
    """
    try:
        if topology.data.partition == "split":
            split_entity_name(topology, cache)
            return {}
        return assign_entities(topology, cache)
    except InputError as error:
        raise InputError(topology.blamed(str(error))) from None


def load_split_entity(topology: Topology, cache: SourceCache) -> EntityData:
    """For ``partition: split``: the one series of ``data.source`` that monitors share.

    Parameters
    ----------
    topology
        The topology; the series is loaded for its first slice.
    cache
        Opens the source.

    Returns
    -------
    EntityData
        The whole series, named as :func:`split_entity_name` gives.

    Raises
    ------
    InputError
        As :func:`split_entity_name`, or if the source cannot read the series.
    """
    name = split_entity_name(topology, cache)
    return cache.source(topology.data.source).load(name, topology.slices[0].name)


def prepare_monitors(topology: Topology, only: set[str] | None = None) -> list[MonitorData]:
    """Load and prepare the data of every monitor (or of the monitors named in ``only``).

    With ``data.partition: split`` the series of ``data.source`` is cut into one contiguous
    share per monitor, in topology order; otherwise each monitor loads its own VMs.

    Parameters
    ----------
    topology
        The topology.
    only
        Names of the monitors to prepare; ``None`` prepares all. Entities are still assigned
        (and a split series cut) over all monitors, so a monitor gets the same data either way.

    Returns
    -------
    list of MonitorData
        The prepared monitors, in topology order.

    Raises
    ------
    InputError
        For any data problem; the message names the monitor and the file.
    """
    cache = SourceCache(topology.seed)
    data = topology.data
    vms_of = monitor_vms(topology, cache)
    whole = load_split_entity(topology, cache) if data.partition == "split" else None
    count = len(topology.monitors)
    monitors: list[MonitorData] = []
    for index, (slice_, monitor) in enumerate(topology.monitors):
        if only is not None and monitor.name not in only:
            continue
        source = cache.source(data.source if whole is not None else monitor.source or data.source)
        try:
            if whole is not None:
                entities = [split_share(whole, index, count)]
            else:
                entities = [source.load(vm, slice_.name) for vm in vms_of[monitor.name]]
            vms = tuple(
                prepare_vm(e, f"{source.label} entity {e.name}", topology, monitor.name)
                for e in entities
            )
        except InputError as error:
            raise InputError(f"monitor {monitor.name} (slice {slice_.name}): {error}") from None
        monitors.append(MonitorData(monitor.name, slice_.name, source.label, vms))
    check_shapes(monitors)
    return monitors


def check_shapes(monitors: list[MonitorData]) -> None:
    """All VMs of all monitors must have the same metric columns, since they train one model."""
    if not monitors:
        return
    reference = monitors[0]
    names = [m.name for m in reference.vms[0].metrics]
    for monitor in monitors:
        for vm in monitor.vms:
            if [m.name for m in vm.metrics] != names:
                raise InputError(
                    f"monitor {monitor.name}, VM {vm.name}: its {len(vm.metrics)} metrics differ "
                    f"from the {len(names)} of monitor {reference.name}, VM "
                    f"{reference.vms[0].name}; all VMs must share columns"
                )
