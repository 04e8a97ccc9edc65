"""Anomaly injection: where it changes the data, which metrics, which way, and never in train."""

from __future__ import annotations

import numpy as np
import pytest

from fedanomaly.config import parse_source, resolve_topology
from fedanomaly.config.schema import ANOMALY_TYPES, InjectionConfig, SyntheticVnfConfig
from fedanomaly.data.injection import ANOMALY_KINDS, TYPE_CODES, inject_anomalies
from fedanomaly.data.metrics import VNF_METRICS, Family, Role, unnamed_metrics
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.data.sources import open_source
from fedanomaly.data.sources.synthetic import SyntheticVnfSource
from fedanomaly.errors import InputError

NAMES = [m.name for m in VNF_METRICS]


@pytest.fixture(scope="module")
def clean():
    """A week of one synthetic VM: train statistics and a clean series to inject into."""
    values = SyntheticVnfSource(SyntheticVnfConfig(length=8000), 3).load("vm", "s").series.values
    return values[:5000].std(axis=0), values[5000:]


def inject(clean, types, seed=0, **settings):
    scale, series = clean
    config = InjectionConfig(types=types, **settings)
    return inject_anomalies(series, VNF_METRICS, scale, config, np.random.default_rng(seed))


@pytest.mark.parametrize("kind", ANOMALY_TYPES)
def test_labels_mark_exactly_where_the_signal_changed(clean, kind):
    injection = inject(clean, [kind])
    changed = (injection.values != clean[1]).any(axis=1)
    labelled = injection.labels.astype(bool)
    assert injection.events, "no event injected"
    assert not (changed & ~labelled).any(), "data changed outside labelled steps"
    assert changed[labelled].mean() > 0.95, "labelled steps where nothing changed"
    for event in injection.events:  # every event starts and ends on a changed step
        assert changed[event.start] and changed[event.stop - 1]
    assert set(np.unique(injection.types[labelled])) == {TYPE_CODES[kind]}


@pytest.mark.parametrize("kind", ANOMALY_TYPES)
def test_only_the_types_metric_family_is_touched(clean, kind):
    injection = inject(clean, [kind])
    allowed = set(ANOMALY_KINDS[kind].families)
    for event in injection.events:
        segment = slice(event.start, event.stop)
        touched = np.flatnonzero((injection.values[segment] != clean[1][segment]).any(axis=0))
        assert event.family in allowed
        assert {VNF_METRICS[j].family for j in touched} == {event.family}
        assert set(touched) <= set(event.columns)


def mean_change(clean, injection, kind, name):
    j = NAMES.index(name)
    mask = injection.types == TYPE_CODES[kind]
    return float((injection.values[mask, j] - clean[1][mask, j]).mean())


@pytest.mark.parametrize(
    ("kind", "up", "down", "unchanged"),
    [
        (
            "cpu_endless_loop",
            ["cpu_system_pct"],
            ["cpu_idle_pct"],
            ["cpu_wait_pct", "cpu_stolen_pct", "mem_used_mb", "net_in_bytes"],
        ),
        ("memory_leak", ["mem_used_mb"], ["mem_free_mb", "mem_usable_pct"], ["mem_total_mb"]),
        (
            "disk_io_fault",
            ["disk_await_ms", "disk_read_requests"],
            ["disk_read_kbps"],
            ["disk_used_pct"],
        ),
        (
            "network_congestion",
            ["net_in_errors", "net_dropped_packets"],
            ["net_in_bytes", "net_out_packets"],
            ["cpu_idle_pct"],
        ),
    ],
)
def test_faults_move_metrics_the_way_they_do_on_a_vm(clean, kind, up, down, unchanged):
    injection = inject(clean, [kind])
    for name in up:
        assert mean_change(clean, injection, kind, name) > 0, name
    for name in down:
        assert mean_change(clean, injection, kind, name) < 0, name
    for name in unchanged:
        assert mean_change(clean, injection, kind, name) == 0, name


def test_memory_leak_grows_over_the_event(clean):
    injection = inject(clean, ["memory_leak"])
    j = NAMES.index("mem_used_mb")
    event = injection.events[0]
    change = injection.values[event.start : event.stop, j] - clean[1][event.start : event.stop, j]
    assert np.all(np.diff(change) > 0)


def test_change_size_follows_intensity(clean):
    j = NAMES.index("cpu_system_pct")
    sizes = []
    for intensity in (0.5, 2.0):
        injection = inject(clean, ["cpu_endless_loop"], intensity=intensity)
        mask = injection.types != 0
        sizes.append(np.abs(injection.values[mask, j] - clean[1][mask, j]).mean())
    assert sizes[1] == pytest.approx(4 * sizes[0], rel=0.1)
    assert sizes[0] == pytest.approx(0.5 * clean[0][j], rel=0.15)


@pytest.mark.parametrize(
    ("types", "rate", "duration"),
    [
        (["cpu_endless_loop", "memory_leak"], 0.08, (12, 20)),
        # the paper's protocol at the default durations: half the steps anomalous, one type
        (["cpu_endless_loop"], 0.5, (10, 40)),
        (["network_congestion"], 0.5, (10, 40)),
    ],
)
def test_rate_duration_and_gaps(clean, types, rate, duration):
    injection = inject(clean, types, rate=rate, duration=duration)
    assert injection.labels.sum() == round(rate * len(clean[1]))
    assert {e.type for e in injection.events} == set(types)
    starts = [e.start for e in injection.events]
    assert starts == sorted(starts)
    low, high = duration
    for event, following in zip(injection.events, injection.events[1:], strict=False):
        assert following.start - event.stop >= low
    assert all(low <= e.stop - e.start <= high for e in injection.events[:-1])


def test_spikes_are_short(clean):
    injection = inject(clean, ["sudden_spike"])
    assert all(1 <= e.stop - e.start <= 3 for e in injection.events)


def test_same_seed_same_anomalies(clean):
    first, second = inject(clean, list(ANOMALY_TYPES), 4), inject(clean, list(ANOMALY_TYPES), 4)
    np.testing.assert_array_equal(first.values, second.values)
    assert first.events == second.events
    assert inject(clean, list(ANOMALY_TYPES), 5).events != first.events


def test_values_stay_within_their_metrics_bounds(clean):
    # faults of 30 standard deviations push every moved metric against its bounds
    injection = inject(clean, list(ANOMALY_TYPES), intensity=30.0)
    _, series = clean
    for j, metric in enumerate(VNF_METRICS):
        column = injection.values[:, j]
        if metric.lower is not None:
            assert column.min() >= metric.lower, metric.name
        if metric.upper is not None:
            assert column.max() <= metric.upper, metric.name
    idle = NAMES.index("cpu_idle_pct")
    assert injection.values[:, idle].min() == 0.0 < series[:, idle].min()  # clipped, not left


def test_real_labels_are_kept_and_avoided(clean):
    scale, series = clean
    labelled = np.zeros(len(series), dtype=np.int8)
    labelled[100:400] = 1
    injection = inject_anomalies(
        series, VNF_METRICS, scale, InjectionConfig(rate=0.2), np.random.default_rng(0), labelled
    )
    assert (injection.types[100:400] == TYPE_CODES["labelled"]).all()
    assert all(e.stop <= 100 - 10 or e.start >= 400 + 10 for e in injection.events)


def test_columns_without_family_take_any_type():
    rng = np.random.default_rng(0)
    values = rng.normal(10, 1, (3000, 4))
    metrics = tuple(unnamed_metrics(4))
    injection = inject_anomalies(
        values, metrics, values.std(axis=0), InjectionConfig(types=["memory_leak"]), rng
    )
    assert injection.events and all(e.family == Family.OTHER for e in injection.events)


def test_families_with_column_groups_only_use_their_group():
    rng = np.random.default_rng(1)
    values = rng.normal(10, 1, (3000, 4))
    metrics = tuple(unnamed_metrics(4, {Family.MEMORY: [2]}))
    injection = inject_anomalies(
        values, metrics, values.std(axis=0), InjectionConfig(types=["memory_leak"]), rng
    )
    changed = np.flatnonzero((injection.values != values).any(axis=0))
    assert list(changed) == [2]
    assert metrics[2].role == Role.USAGE


def test_pipeline_never_injects_into_train_and_injects_validation_and_test():
    monitors = prepare_monitors(resolve_topology(slices=2, monitors=3))
    for monitor in monitors:
        for vm in monitor.vms:
            assert vm.train.events == () and not vm.train.labels.any()
            assert vm.validation.events and vm.test.events
            assert vm.validation.labels.mean() == pytest.approx(0.05, abs=0.01)


def test_pipeline_leaves_real_labelled_test_parts_alone(smd_dir):
    topology = resolve_topology(source=parse_source(f"smd:{smd_dir}"), slices=1, monitors=1)
    vm = prepare_monitors(topology)[0].vms[0]
    assert vm.test.events == () and vm.validation.events
    assert set(np.unique(vm.test.types)) == {0, TYPE_CODES["labelled"]}


def test_a_type_whose_family_is_missing_is_an_error():
    rng = np.random.default_rng(0)
    values = rng.normal(10, 1, (500, 2))
    metrics = tuple(unnamed_metrics(2, {Family.CPU: [0, 1]}))
    with pytest.raises(
        InputError,
        match=r"anomaly type 'memory_leak' acts on memory metrics and the data has none \(set the "
        r"source's column_groups, or choose other types: data.injection.types, or --inject in "
        r"simulate, generate and the data commands\)",
    ):
        inject_anomalies(
            values, metrics, values.std(axis=0), InjectionConfig(types=["memory_leak"]), rng
        )


def test_drops_on_idle_metrics_are_not_labelled(bitbrains_dir):
    """On real VMs throughput is often 0; a drop there changes nothing and must not be labelled."""
    bitbrains = open_source(parse_source(f"bitbrains:{bitbrains_dir}"), 0)
    config = InjectionConfig(types=["disk_io_fault", "network_congestion"], rate=0.1)
    unchanged = labelled = 0
    for name in bitbrains.entities()[:20]:
        series = bitbrains.load(name, "s").series
        cut = len(series) * 3 // 4
        train, held_out = series.values[:cut], series.values[cut:]
        injection = inject_anomalies(
            held_out, series.metrics, train.std(axis=0), config, np.random.default_rng(0)
        )
        changed = (injection.values != held_out).any(axis=1)
        mask = injection.labels.astype(bool)
        assert not (changed & ~mask).any()
        for event in injection.events:
            assert changed[event.start] and changed[event.stop - 1]
        unchanged += int((mask & ~changed).sum())
        labelled += int(mask.sum())
    assert labelled > 0 and unchanged / labelled < 0.05


def test_scaler_in_the_pipeline_uses_the_train_part_only():
    vm = prepare_monitors(resolve_topology(slices=1, monitors=1))[0].vms[0]
    low, high = vm.train.raw.min(axis=0), vm.train.raw.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    np.testing.assert_allclose(vm.test.scaled, (vm.test.raw - low) / span, rtol=1e-5, atol=1e-6)
    assert vm.test.scaled.max() > 1.0 or vm.test.scaled.min() < 0.0
