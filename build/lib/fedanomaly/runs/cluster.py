"""A local Ray cluster started with ``ray start --head``, so that many runs can join one Ray
session (test suites, benchmark sweeps) the way they join a real cluster with
``--ray-address``."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ADDRESS_LINE = re.compile(r"ray start --address='([^']+)'")
START_TIMEOUT_S = 120.0


class ClusterStartError(RuntimeError):
    """``ray start --head`` did not report a cluster address."""


def head_command(cpus: int | None) -> list[str]:
    """The ``ray start --head`` command line of a blocking head node on a free port."""
    command = [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--port", "0",
        "--include-dashboard", "false", "--disable-usage-stats", "--block",
    ]  # fmt: skip
    if cpus is not None:
        command += ["--num-cpus", str(cpus)]
    return command


def wait_for_address(head: subprocess.Popen[bytes], log: Path) -> str:
    """The ``host:port`` the head node prints once it is up.

    Parameters
    ----------
    head
        The ``ray start --head --block`` process.
    log
        The file its output goes to; read every 0.2 s for the address.

    Returns
    -------
    str
        The cluster's address, ``host:port``.

    Raises
    ------
    ClusterStartError
        If the head node exits, or prints no address within :data:`START_TIMEOUT_S` seconds;
        the message ends with the log's last 2,000 characters.
    """
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        match = ADDRESS_LINE.search(log.read_text(errors="replace"))
        if match:
            return match[1]
        if head.poll() is not None:
            break
        time.sleep(0.2)
    raise ClusterStartError(
        f"ray start --head did not start a cluster:\n{log.read_text(errors='replace')[-2000:]}"
    )


@contextlib.contextmanager
def local_ray_cluster(cpus: int | None = None) -> Iterator[str]:
    """Start a Ray head node with ``ray start --head --block`` and yield its address
    (``host:port``); stop it (SIGTERM, which ends its Ray processes) on exit.

    Parameters
    ----------
    cpus
        CPUs the cluster offers; ``None`` lets Ray count the machine's.

    Raises
    ------
    ClusterStartError
        If the head node does not come up within two minutes.
    """
    with tempfile.TemporaryDirectory(prefix="fedanomaly-ray-") as scratch:
        log = Path(scratch) / "ray-start.log"
        with log.open("wb") as output:
            head = subprocess.Popen(
                head_command(cpus),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            yield wait_for_address(head, log)
        finally:
            head.terminate()
            try:
                head.wait(timeout=60)
            except subprocess.TimeoutExpired:
                head.kill()
                head.wait()
