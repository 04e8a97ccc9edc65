"""The built-in synthetic-vnf source: schema, determinism and the structure it promises."""

from __future__ import annotations

import numpy as np
import pytest

from fedanomaly.config.schema import SyntheticVnfConfig
from fedanomaly.data.metrics import VNF_METRICS, Family
from fedanomaly.data.sources.synthetic import SyntheticVnfSource

DAY = 1440
NAMES = [m.name for m in VNF_METRICS]


def column(values: np.ndarray, name: str) -> np.ndarray:
    return values[:, NAMES.index(name)]


def generate(vm: str, slice_name: str, *, seed: int = 0, days: int = 14) -> np.ndarray:
    source = SyntheticVnfSource(SyntheticVnfConfig(length=days * DAY), seed)
    return source.load(vm, slice_name).series.values


def hourly_residual(series: np.ndarray) -> np.ndarray:
    """Hourly means after removing the mean value at each minute of the day."""
    days = series.reshape(-1, DAY)
    return (days - days.mean(axis=0)).reshape(-1, 60).mean(axis=1)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_schema_is_table_1_of_the_paper():
    families = [m.family for m in VNF_METRICS]
    assert len(VNF_METRICS) == 26
    assert (
        families
        == [Family.CPU] * 4 + [Family.DISK] * 8 + [Family.MEMORY] * 7 + [Family.NETWORK] * 7
    )


def test_same_seed_same_numbers_and_independent_of_generation_order():
    source = SyntheticVnfSource(SyntheticVnfConfig(length=3000), seed=5)
    first = source.load("vm-b", "slice-1").series.values
    other = SyntheticVnfSource(SyntheticVnfConfig(length=3000), seed=5)
    other.load("vm-a", "slice-1")
    np.testing.assert_array_equal(other.load("vm-b", "slice-1").series.values, first)
    different = SyntheticVnfSource(SyntheticVnfConfig(length=3000), seed=6).load("vm-b", "slice-1")
    assert not np.allclose(different.series.values, first)


def test_any_length_and_finite_physical_values():
    values = generate("vm", "s", days=1)
    assert values.shape == (DAY, 26) and np.isfinite(values).all()
    percent = [j for j, m in enumerate(VNF_METRICS) if m.upper == 100.0]
    assert values[:, percent].min() >= 0 and values[:, percent].max() <= 100
    cpu = values[:, :4].sum(axis=1)
    assert cpu.max() <= 100.0 + 1e-9
    assert (values >= 0).all()


def test_daily_seasonality():
    load = column(generate("vm", "s"), "cpu_system_pct")
    centred = load - load.mean()

    def autocorrelation(lag: int) -> float:
        return correlation(centred[:-lag], centred[lag:])

    assert autocorrelation(DAY) > 0.6
    assert autocorrelation(DAY // 2) < -0.2


def test_load_is_shared_within_a_slice_not_across_slices():
    def residual(vm: str, slice_name: str) -> np.ndarray:
        return hourly_residual(column(generate(vm, slice_name), "cpu_idle_pct"))

    same = correlation(residual("a", "slice-1"), residual("b", "slice-1"))
    across = correlation(residual("a", "slice-1"), residual("c", "slice-2"))
    assert same > 0.6
    assert same > across + 0.3


@pytest.mark.parametrize(
    ("first", "second", "sign"),
    [
        ("cpu_idle_pct", "cpu_system_pct", -1),
        ("mem_used_mb", "mem_usable_mb", -1),
        ("net_in_bytes", "net_in_packets", 1),
        ("disk_read_iops", "disk_read_kbps", 1),
        ("mem_load_avg_1m", "mem_load_avg_5m", 1),
    ],
)
def test_metrics_of_a_family_move_together(first, second, sign):
    values = generate("vm", "s", days=3)
    assert sign * correlation(column(values, first), column(values, second)) > 0.8


def test_vms_differ():
    vms = [generate(f"vm-{k}", "s", days=1) for k in range(9)]
    totals = {float(column(v, "mem_total_mb")[0]) for v in vms}
    traffic = [column(v, "net_in_bytes").mean() for v in vms]
    assert len(totals) >= 2
    assert max(traffic) > 1.5 * min(traffic)
