"""The simulated clock of a run, from its iteration and round records and the network model.

Inside a group (a slice, or a monitor in standalone mode, or the controller in centralized
mode) an iteration takes its compute time (the group's own work plus its slowest monitor's,
measured) plus the transfer of one message down and one up (monitors send in parallel, each over
its own link); the first iteration waits for the monitors' first batches as well. Groups run
in parallel. In federated mode a FedAvg round ends when the slowest slice has finished its L
iterations, its model has gone up and the average has come back down;
otherwise the run takes as long as its slowest group. In centralized mode the monitors' upload of
their training data (in parallel, one link each) comes first. Transfers use the expected times of
:mod:`fedanomaly.metering.network`; compute times are measured, so only the transfer part is the
same from run to run.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fedanomaly.config.schema import Topology
from fedanomaly.metering.network import message_seconds, transfer_seconds


def iteration_seconds(record: dict[str, Any], topology: Topology) -> tuple[float, float]:
    """(compute, transfer) seconds of one group's iteration.

    Parameters
    ----------
    record
        The iteration's record in ``metrics.jsonl``: its bytes and messages up and down, and
        its measured ``compute_seconds`` where it has them.
    topology
        Its monitor-slice link.

    Returns
    -------
    tuple of float
        The compute seconds (0 where the record has none), and the expected seconds of the
        messages down and then up, each direction's messages sent in parallel.
    """
    link = topology.links.monitor_slice
    transfer = message_seconds(link, record["down_bytes"], record["down_messages"])
    transfer += message_seconds(link, record["up_bytes"], record["up_messages"])
    return record.get("compute_seconds", 0.0), transfer


def simulated_time(records: list[dict[str, Any]], topology: Topology) -> dict[str, float]:
    """``simulated_seconds`` of training and its compute and transfer parts.

    Parameters
    ----------
    records
        The run's ``metrics.jsonl`` lines: iteration records (``group``), each group's first
        batches (``first_batches``), in federated mode round records (``round``), in
        centralized mode each monitor's upload (``upload``).
    topology
        Links and L.
    """
    per_group: dict[str, dict[int, tuple[float, float]]] = defaultdict(dict)
    for record in records:
        if "iteration" in record:
            per_group[record["group"]][record["iteration"]] = iteration_seconds(record, topology)
    for record in records:  # a group's first batches go up before its first iteration
        if "first_batches" in record and 0 in per_group[record["first_batches"]]:
            compute, transfer = per_group[record["first_batches"]][0]
            link = topology.links.monitor_slice
            transfer += message_seconds(link, record["up_bytes"], record["up_messages"])
            per_group[record["first_batches"]][0] = compute, transfer
    rounds = [r for r in records if "round" in r]
    if not per_group:
        return {"simulated_seconds": 0.0, "compute_seconds": 0.0, "transfer_seconds": 0.0}
    local = topology.model.local_iterations
    spans = (
        [range((r["round"] - 1) * local, r["round"] * local) for r in rounds]
        if rounds
        else [range(0, topology.model.training_iterations)]
    )
    compute_total = 0.0
    # the monitors upload their training data first, each on its own link: the slowest counts
    transfer_total = max(
        (
            transfer_seconds(topology.links.monitor_controller, r["up_bytes"], r["up_messages"])
            for r in records
            if "upload" in r
        ),
        default=0.0,
    )
    for index, span in enumerate(spans):
        slowest = max(
            per_group.values(),
            key=lambda its: sum(sum(its.get(i, (0.0, 0.0))) for i in span),
        )
        compute_total += sum(slowest.get(i, (0.0, 0.0))[0] for i in span)
        transfer_total += sum(slowest.get(i, (0.0, 0.0))[1] for i in span)
        if rounds:
            record, link = rounds[index], topology.links.slice_controller
            transfer_total += message_seconds(link, record["up_bytes"], record["up_messages"])
            transfer_total += message_seconds(link, record["down_bytes"], record["down_messages"])
    return {
        "simulated_seconds": compute_total + transfer_total,
        "compute_seconds": compute_total,
        "transfer_seconds": transfer_total,
    }


def link_transfer_seconds(communication: dict[str, Any], topology: Topology) -> dict[str, float]:
    """Per link, the expected seconds of all its messages sent one after the other.

    Parameters
    ----------
    communication
        Per link name, its ``up_bytes``, ``down_bytes`` and ``messages``, as
        :func:`~fedanomaly.runs.summary.communication` reports them.
    topology
        The links' bandwidth, latency, jitter and loss.

    Returns
    -------
    dict
        Seconds per link name.
    """
    return {
        name: transfer_seconds(
            getattr(topology.links, name),
            entry["up_bytes"] + entry["down_bytes"],
            entry["messages"],
        )
        for name, entry in communication.items()
    }
