"""Monitors hosted by other nodes, reached through direct Ray actor calls.

Each protocol's group of remote monitors (:class:`RemoteMonitors` here, the local models'
``RemoteLearners`` and ``cmsf-attae``'s ``RemoteGenerating``) calls every hosting node at once
and gathers the replies in host order, which is the order of :attr:`RemoteHosts.names`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import ray

from fedanomaly.metering.meter import Traffic
from fedanomaly.models.sides import Arrays
from fedanomaly.tiers.monitor import StepResult

#: One call to a hosting node: its actor handle and the names of the monitors the call is for.
HostCall = Callable[[Any, list[str]], Any]


class RemoteHosts:
    """Monitors hosted by other nodes.

    Parameters
    ----------
    hosts
        Each hosting node's Ray actor handle with the names of the monitors it hosts.
    """

    def __init__(self, hosts: list[tuple[Any, list[str]]]) -> None:
        self.hosts = hosts
        self.names = [name for _, names in hosts for name in names]

    def gather(self, call: HostCall) -> list[Any]:
        """Make ``call(host, names)`` on every host at once and chain the lists they return."""
        replies = ray.get([call(host, names) for host, names in self.hosts])
        return [item for reply in replies for item in reply]

    def broadcast(self, call: HostCall) -> None:
        """Make ``call(host, names)`` on every host at once and wait for all of them."""
        ray.get([call(host, names) for host, names in self.hosts])


class RemoteMonitors(RemoteHosts):
    """BiWGAN-GP's monitors hosted by other nodes (a :class:`~.slice_manager.MonitorGroup`)."""

    def first_batches(self) -> list[tuple[np.ndarray, Traffic]]:
        return self.gather(lambda host, names: host.first_batches.remote(names))

    def step(self, iteration: int, payloads: list[Arrays]) -> list[StepResult]:
        """One exchange with every monitor: each hosting node steps its own monitors
        (``TierNode.step``), all nodes at once.

        Parameters
        ----------
        iteration
            Number of the iteration, for error messages.
        payloads
            The generator side's message to each monitor, in ``names`` order.

        Returns
        -------
        list of StepResult
            Each monitor's feedback, next batch, losses and traffic, in ``names`` order.

        Raises
        ------
        ray.exceptions.RayTaskError
            If a hosting node's step failed; for a diverged monitor it is also a
            ``DivergenceError``.
        """
        by_name = dict(zip(self.names, payloads, strict=True))
        return self.gather(
            lambda host, names: host.step.remote(iteration, {n: by_name[n] for n in names})
        )
