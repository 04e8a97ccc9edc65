"""Shared fixtures: the real datasets beside the checkout, and small topologies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fedanomaly.runs.cluster import local_ray_cluster

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SMD = DATASETS / "smd" / "processed"
BITBRAINS = DATASETS / "bitbrains" / "rnd" / "2013-7"
ALIBABA = DATASETS / "datacenter-aggregated" / "alibaba2018"
AZURE = (
    DATASETS / "datacenter-aggregated" / "azure_v2" / "vm_cpu_readings_month_aggregated_cpu_mem.csv"
)
TOPOLOGIES = Path(__file__).resolve().parents[1] / "topologies"


def need(path: Path) -> Path:
    """Skip the test, with the reason, where a real data file is absent."""
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture
def smd_dir() -> Path:
    return need(SMD)


@pytest.fixture
def bitbrains_dir() -> Path:
    return need(BITBRAINS)


@pytest.fixture
def alibaba_csv() -> Path:
    return need(ALIBABA / "machine_usage_days_1_to_8_grouped_300_seconds.csv")


@pytest.fixture
def azure_csv() -> Path:
    return need(AZURE)


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """One Ray cluster for the whole test run, started with ``ray start --head``; runs join it
    through ``--ray-address`` as they would join a real cluster."""
    with local_ray_cluster(cpus=2) as address:
        yield address
