"""Shared fixtures: the real datasets beside the checkout, and small topologies."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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


HOLDER = """
import sys, ray
ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """One Ray cluster for the whole test run, held by a helper process; runs join it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    address = holder.stdout.readline().strip()
    if not address:
        holder.kill()
        pytest.fail("could not start the shared Ray cluster")
    yield address
    holder.stdin.close()
    holder.wait(timeout=60)
