"""A local Ray cluster held by a helper process, so that many runs can join one Ray session
(test suites, benchmark sweeps) instead of each starting and stopping its own."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

HOLDER = """
import sys, ray
ray.init(num_cpus={cpus}, include_dashboard=False, logging_level="ERROR")
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""


class ClusterStartError(RuntimeError):
    """The helper process did not report a Ray address."""


@contextlib.contextmanager
def local_ray_cluster(cpus: int | None = None) -> Iterator[str]:
    """Start a local Ray cluster in a helper process and yield its address (``host:port``).

    Parameters
    ----------
    cpus
        CPUs the cluster offers; ``None`` lets Ray count the machine's.
    """
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(cpus=cpus)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    address = holder.stdout.readline().strip()
    if not address:
        holder.kill()
        raise ClusterStartError("the local Ray cluster did not start")
    try:
        yield address
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
