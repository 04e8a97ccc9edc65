"""Metric descriptions: which family a column belongs to and how a fault moves it.

Every data source describes its columns with :class:`MetricSpec`. Anomaly injection reads the
family (which fault touches the column) and the role (which way the fault moves it); a column
with no known meaning has family ``other`` and role ``usage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    """The resource a metric measures (Table 1 of seed 002)."""

    CPU = "cpu"
    DISK = "disk"
    MEMORY = "memory"
    NETWORK = "network"
    OTHER = "other"


class Role(StrEnum):
    """How a metric behaves when its resource is loaded or faulty.

    ``usage`` rises with load (CPU percent, used memory); ``headroom`` falls as usage rises (idle
    percent, free memory); ``capacity`` is provisioned or slow and does not move with load (memory
    size, disk space used); ``throughput`` is work done per second (bytes, packets, I/O
    operations); ``latency`` is waiting (queue length, await, service time, load average, I/O
    wait and steal time);
    ``error`` counts failures (errors, drops, retransmissions).
    """

    USAGE = "usage"
    HEADROOM = "headroom"
    CAPACITY = "capacity"
    THROUGHPUT = "throughput"
    LATENCY = "latency"
    ERROR = "error"


@dataclass(frozen=True)
class MetricSpec:
    """One metric column.

    Parameters
    ----------
    name
        Column name as the source reports it.
    family
        Resource family the metric belongs to.
    role
        How the metric moves under load and faults.
    lower, upper
        Physical bounds (percentages lie in [0, 100], counts are non-negative); ``None`` is
        unbounded. Injected anomalies are clipped to them.
    """

    name: str
    family: Family = Family.OTHER
    role: Role = Role.USAGE
    lower: float | None = 0.0
    upper: float | None = None


def percent(name: str, family: Family, role: Role = Role.USAGE) -> MetricSpec:
    """A percentage metric, bounded to [0, 100].

    Parameters
    ----------
    name
        Column name.
    family
        Resource family.
    role
        How the metric moves under load and faults.

    Returns
    -------
    MetricSpec
        The spec, with ``lower`` 0 and ``upper`` 100.
    """
    return MetricSpec(name, family, role, 0.0, 100.0)


def unnamed_metrics(count: int, groups: dict[Family, list[int]] | None = None) -> list[MetricSpec]:
    """Specs for columns without names: ``m0``, ``m1``, ... in the given family groups.

    Parameters
    ----------
    count
        Number of columns.
    groups
        Column indices per family; columns in no group get family ``other``.
    """
    family_of = {index: family for family, indices in (groups or {}).items() for index in indices}
    return [
        MetricSpec(f"m{i}", family_of.get(i, Family.OTHER), Role.USAGE, None) for i in range(count)
    ]


# The 26 metrics of the VNF dataset of seed 002 (Table 1): 4 CPU, 8 disk, 7 memory, 7 network.
VNF_METRICS: tuple[MetricSpec, ...] = (
    percent("cpu_idle_pct", Family.CPU, Role.HEADROOM),
    percent("cpu_wait_pct", Family.CPU, Role.LATENCY),
    percent("cpu_system_pct", Family.CPU),
    percent("cpu_stolen_pct", Family.CPU, Role.LATENCY),
    percent("disk_used_pct", Family.DISK, Role.CAPACITY),
    MetricSpec("disk_read_requests", Family.DISK, Role.LATENCY),
    MetricSpec("disk_write_requests", Family.DISK, Role.LATENCY),
    MetricSpec("disk_read_iops", Family.DISK, Role.THROUGHPUT),
    MetricSpec("disk_write_iops", Family.DISK, Role.THROUGHPUT),
    MetricSpec("disk_read_kbps", Family.DISK, Role.THROUGHPUT),
    MetricSpec("disk_write_kbps", Family.DISK, Role.THROUGHPUT),
    MetricSpec("disk_await_ms", Family.DISK, Role.LATENCY),
    MetricSpec("mem_load_avg_1m", Family.MEMORY, Role.LATENCY),
    MetricSpec("mem_load_avg_5m", Family.MEMORY, Role.LATENCY),
    percent("mem_usable_pct", Family.MEMORY, Role.HEADROOM),
    MetricSpec("mem_usable_mb", Family.MEMORY, Role.HEADROOM),
    MetricSpec("mem_free_mb", Family.MEMORY, Role.HEADROOM),
    MetricSpec("mem_used_mb", Family.MEMORY),
    MetricSpec("mem_total_mb", Family.MEMORY, Role.CAPACITY),
    MetricSpec("net_in_bytes", Family.NETWORK, Role.THROUGHPUT),
    MetricSpec("net_out_bytes", Family.NETWORK, Role.THROUGHPUT),
    MetricSpec("net_in_packets", Family.NETWORK, Role.THROUGHPUT),
    MetricSpec("net_out_packets", Family.NETWORK, Role.THROUGHPUT),
    MetricSpec("net_in_errors", Family.NETWORK, Role.ERROR),
    MetricSpec("net_out_errors", Family.NETWORK, Role.ERROR),
    MetricSpec("net_dropped_packets", Family.NETWORK, Role.ERROR),
)
