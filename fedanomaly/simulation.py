"""One simulation run: data to every monitor, training across the tiers in one of four modes,
detection on every monitor, and the run directory.

Who holds what, per mode (Fig. 5 of seed 002). A node is a Ray actor; by default it hosts up
to three monitors of one slice (``placement.monitors_per_node``), or whole slices with their
monitors (``placement.slices_per_node``):

- ``federated``: monitor nodes (each monitor's data and critic D_n), a node per slice (G and
  E); the slices train with their monitors over direct Ray actor calls (Algorithm 1) and the
  controller, a Flower ServerApp with Flower's FedAvg, averages their G and E every L iterations
  (Algorithm 2).
- ``distributed``: the same nodes, no FedAvg: each slice keeps its own G and E.
- ``standalone``: monitor nodes, each monitor with its own G, E and D_n; nothing crosses a
  link.
- ``centralized``: every monitor sends its training data once to the controller, whose node
  trains one G, E and D on the pooled windows; the model goes back to every monitor.

Afterwards every monitor scores its own validation and test parts with its D (the controller's
in centralized mode) and the G and E it receives.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import ray
import torch
from flwr.serverapp import Grid
from flwr.simulation import run_simulation
from ray._private import utils as ray_utils  # where `ray start` leaves its address
from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

from fedanomaly.config.schema import Topology
from fedanomaly.data.injection import anomaly_labels
from fedanomaly.data.pipeline import MonitorData, prepare_monitors
from fedanomaly.errors import InputError
from fedanomaly.evaluation.report import MonitorReport
from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import (
    MONITOR_CONTROLLER,
    MONITOR_SLICE,
    SLICE_CONTROLLER,
    Meter,
    Traffic,
    traffic_fields,
)
from fedanomaly.metering.wire import from_positional, positional
from fedanomaly.models.cmsf import CmsfGeneratorSide
from fedanomaly.models.local import build_local_model
from fedanomaly.models.sides import GanShape, GeneratorSide, module_arrays
from fedanomaly.runs.directory import RunDirectory, check_free
from fedanomaly.runs.live import LiveMetrics
from fedanomaly.runs.plots import plot_losses
from fedanomaly.runs.summary import build_summary
from fedanomaly.seeding import stable_hash, standalone_seed
from fedanomaly.tiers.controller import (
    Federation,
    RoundParts,
    SliceFailureError,
    controller_app,
    run_controller,
    slice_app,
)
from fedanomaly.tiers.monitor import DivergenceError
from fedanomaly.tiers.node import TierNode

# Keep Ray from rewriting CUDA_VISIBLE_DEVICES for CPU-only actors (and from warning about it).
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")

LOSSES = ("critic_loss", "eg_loss", "loss")
RoundCallback = Callable[[list[dict[str, Any]]], None]


class RunFailedError(Exception):
    """Training stopped (a diverged monitor, a node out of memory); the run directory keeps
    what was written."""


OUT_OF_MEMORY = "worker(s) were killed due to the node running low on memory"


#: How a failure that Flower's log explains ends its message (left out of run.log's own line).
SEE_LOG = " (see run.log)"


def failure_reason(reason: str) -> str:
    """A failure in one line: Ray's long out-of-memory report becomes what to change."""
    if OUT_OF_MEMORY not in reason:
        return reason
    used = re.search(r"was ([\d.]+GB / [\d.]+GB)", reason)
    return (
        f"a Ray node ran out of memory ({used.group(1) if used else 'memory exhausted'} in use) "
        "and Ray stopped a worker: put whole slices on fewer actors "
        "(placement.slices_per_node), or run fewer monitors or shorter data"
    )


@dataclass
class Deployment:
    """The Ray nodes of a run and what each hosts."""

    shape: GanShape
    groups: dict[str, Any] = field(default_factory=dict)
    actor_names: dict[str, str] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    hosts: dict[str, Any] = field(default_factory=dict)
    tiers: list[tuple[Any, dict[str, str]]] = field(default_factory=list)
    devices: dict[str, str] = field(default_factory=dict)
    uploads: list[dict[str, Any]] = field(default_factory=list)  # centralized: one per monitor


def initial_model(shape: GanShape, topology: Topology) -> list[np.ndarray]:
    """The model every slice starts from: G and E, or a local model's weights (built on the CPU
    with torch's CPU generator forked, so that the caller's is left as it was).

    Parameters
    ----------
    shape
        The model's sizes (metrics, window length, latent size, variant).
    topology
        The model settings and the seed that sets the weights; for ``cmsf-attae`` also the
        injected types, CMSF-GAN's classes.

    Returns
    -------
    list of numpy.ndarray
        G's then E's arrays (G's alone for a variant without an encoder), or the local model's;
        for ``cmsf-attae`` CMSF-GAN's G's arrays, then ATTAE's.
    """
    with torch.random.fork_rng(devices=[]):  # built on the CPU: no CUDA context here
        if not topology.model.is_local:
            return GeneratorSide(shape, topology.model, topology.seed).arrays()
        local = module_arrays(build_local_model(topology.model, shape.metrics, topology.seed))
        if topology.model.name == "cmsf-attae":  # G, then ATTAE
            types = len(topology.data.injection.types)
            generator = CmsfGeneratorSide(types, shape.metrics, topology.model, topology.seed)
            return generator.arrays() + local
        return local


def trained_per_round(topology: Topology, shape: GanShape, initial: list[np.ndarray]) -> RoundParts:
    """The arrays each FedAvg round trains: for cmsf-attae G's in the rounds of CMSF-GAN's I_G
    iterations (a multiple of L) and ATTAE's in the rounds after; the whole model otherwise.

    Parameters
    ----------
    topology
        The model settings (name, I_G, L) and the seed.
    shape
        The model's sizes.
    initial
        The whole model, as :func:`initial_model` gives it.

    Returns
    -------
    RoundParts
        Maps a FedAvg round (from 1) to the slice of ``initial``'s arrays it trains.
    """
    model, count = topology.model, len(initial)
    if model.name != "cmsf-attae":
        return lambda server_round: slice(0, count)
    generator = count - len(build_local_model(model, shape.metrics, topology.seed).state_dict())
    generator_rounds = model.generator_iterations // model.local_iterations

    def trained(server_round: int) -> slice:
        return slice(0, generator) if server_round <= generator_rounds else slice(generator, count)

    return trained


def check_sizes(topology: Topology, monitors: list[MonitorData]) -> None:
    """A batch must fit in every monitor's training windows.

    Parameters
    ----------
    topology
        The batch size M, the window length T and the window stride.
    monitors
        Every monitor's prepared data.

    Raises
    ------
    InputError
        If M is larger than a monitor's training windows, or T is longer than a VM's train
        part.
    """
    model = topology.model
    for monitor in monitors:
        count = len(monitor.windows("train", model.window_length, model.window_stride))
        if model.batch_size > count:
            message = (
                f"model.batch_size (M={model.batch_size}) is larger than monitor "
                f"{monitor.name}'s {count} training windows"
            )
            raise InputError(topology.blamed(message, "model.batch_size"))


@contextlib.contextmanager
def ray_session(
    address: str | None, namespace: str, log_file: Path, verbose: bool
) -> Iterator[str]:
    """Join an existing Ray cluster at ``address``, or start a local one; leave it afterwards.

    Ray's own log lines go to ``log_file`` (and the console with ``verbose``).

    Parameters
    ----------
    address
        ``host:port``, ``auto`` (see :func:`cluster_address`) or ``ray://...`` of a cluster to
        join; ``None`` or ``local`` starts a local Ray instance.
    namespace
        The Ray namespace of the run's actors.
    log_file
        Where Ray's and Flower's log lines go (appended).
    verbose
        Show those log lines on the console as well, and forward the workers' output.

    Yields
    ------
    str
        ``namespace``, where the run's actors are named.

    Raises
    ------
    InputError
        If ``address`` is malformed, does not answer or is not a Ray cluster's head,
        ``auto`` finds no cluster, or Ray cannot connect or start.
    """
    check_reachable(address)
    address = cluster_address(address)
    with logging_to(log_file, verbose):
        try:
            try:
                ray.init(
                    address=address or "local",  # not a cluster `ray start` left running
                    namespace=namespace,
                    include_dashboard=False,
                    log_to_driver=verbose,
                    logging_level=logging.INFO if verbose else logging.WARNING,
                    configure_logging=verbose,
                )
            except (ConnectionError, RuntimeError, ValueError) as error:
                where = address or "a local Ray instance"
                raise InputError(f"--ray-address: cannot connect to {where}: {error}") from None
            yield namespace
        finally:
            if ray.is_initialized():
                ray.shutdown()


@contextlib.contextmanager
def joined_session(log_file: Path, verbose: bool) -> Iterator[str]:
    """The Ray session this process is already connected to (under ``flwr run``, the one
    Flower's simulation engine started for its ClientApps); left up afterwards, its owner ends
    it. Ray's and Flower's log lines go to ``log_file`` too.

    Parameters
    ----------
    log_file
        Where Ray's and Flower's log lines go (appended).
    verbose
        Keep those log lines on the console as well.

    Yields
    ------
    str
        The session's namespace, where the run's actors are named.

    Raises
    ------
    InputError
        If this process is not connected to a Ray session.
    """
    if not ray.is_initialized():
        raise InputError("no Ray session to join: Flower's simulation engine has not started one")
    with logging_to(log_file, verbose):
        yield ray.get_runtime_context().namespace


@contextlib.contextmanager
def logging_to(log_file: Path, verbose: bool) -> Iterator[None]:
    """Ray's and Flower's loggers write to ``log_file`` too, and only there unless ``verbose``.

    Their handlers are restored on exit.

    Parameters
    ----------
    log_file
        The file the ``ray`` and ``flwr`` loggers append to.
    verbose
        Keep the loggers' own handlers (the console) as well.
    """
    handler = logging.FileHandler(log_file)
    loggers = [logging.getLogger(name) for name in ("ray", "flwr")]
    saved = [(lg, lg.handlers[:], lg.propagate) for lg in loggers]
    for lg in loggers:
        if not verbose:
            lg.handlers = []
            lg.propagate = False
        lg.addHandler(handler)
    try:
        yield
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers = handlers
            lg.propagate = propagate
        handler.close()


def cluster_address(address: str | None) -> str | None:
    """``--ray-address`` with ``auto`` looked up: ``RAY_ADDRESS``, else the address the last
    ``ray start`` on this machine left in Ray's temporary folder (which may be stale; see
    :func:`check_reachable`). Unlike Ray's own ``auto``, a running Ray instance that no
    ``ray start`` made (another run's private one) is never joined.

    Raises
    ------
    InputError
        For ``auto`` where neither gives an address.
    """
    if address != "auto":
        return address
    environment = os.environ.get("RAY_ADDRESS", "")
    found = environment if environment not in ("", "auto") else ray_utils.read_ray_address()
    if not found:
        raise InputError(
            "--ray-address auto: no Ray cluster started with `ray start` on this machine "
            "(start one with `ray start --head`, or give its host:port)"
        )
    return found


#: The scheme of a Ray Client address, and the port Ray Client servers listen on by default.
RAY_CLIENT = "ray://"
RAY_CLIENT_PORT = 10001


def check_reachable(address: str | None) -> None:
    """Fail fast on a ``host:port`` or ``ray://host[:port]`` that does not answer (Ray itself
    would retry for minutes, or 30 s for a Ray Client), and on ``auto`` where
    :func:`cluster_address` finds nothing or such an address."""
    if address == "auto":
        found = cluster_address(address)
        try:
            check_reachable(found)
        except InputError as error:
            raise InputError(f"{error} (what 'auto' found on this machine)") from None
        return
    if address is None or address == "local":
        return
    client = address.startswith(RAY_CLIENT)  # a Ray Client server: no GCS to ask
    host_port = address.removeprefix(RAY_CLIENT) if client else address
    if client and ":" not in host_port:
        host_port = f"{host_port}:{RAY_CLIENT_PORT}"
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray-address: expected host:port, auto or ray://..., got '{address}'")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as error:
        raise InputError(
            f"--ray-address: cannot reach a Ray cluster at {address}: {error}"
        ) from None
    if not client:
        check_ray_cluster(address)


#: What a server that answers but has no Ray GCS gives (an HTTP server, another gRPC service).
NOT_RAY = (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAVAILABLE)


def check_ray_cluster(address: str) -> None:
    """Fail fast where ``address`` answers but is not a Ray cluster's head (a dashboard or other
    service's port): ask it for the cluster ID, as Ray's own client does first; Ray would print
    a warning a second for about 20 s before giving up. A slow or access-controlled head is left
    for Ray to judge."""
    channel = grpc.insecure_channel(address)
    try:
        gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel).GetClusterId(
            gcs_service_pb2.GetClusterIdRequest(), timeout=3
        )
    except grpc.RpcError as error:
        if error.code() in NOT_RAY:
            raise InputError(
                f"--ray-address: {address} answers but is not a Ray cluster's head "
                f"({error.code().name})"
            ) from None
    finally:
        channel.close()


def gpu_share(devices: list[str]) -> list[float]:
    """The GPU share each generator side asks Ray for: none for ``cpu`` or a CPU-only cluster."""
    gpus = ray.cluster_resources().get("GPU", 0.0)
    if gpus == 0:
        if any(d.startswith("cuda") for d in devices):
            raise InputError(
                "device: cuda is set, but the Ray cluster has no GPU (use auto or cpu)"
            )
        return [0.0] * len(devices)
    wanting = sum(d != "cpu" for d in devices)
    share = min(1.0, gpus / max(wanting, 1))
    return [0.0 if d == "cpu" else share for d in devices]


def node_layout(
    topology: Topology, monitors: list[MonitorData]
) -> list[tuple[list[str], list[MonitorData]]]:
    """What each node of monitors holds: (slices whose managers it hosts, its monitors).

    ``placement.slices_per_node`` puts that many whole slices on a node; otherwise a node holds
    ``placement.monitors_per_node`` monitors of one slice and no slice manager.

    Parameters
    ----------
    topology
        The slices, in order, and the placement.
    monitors
        Every monitor's prepared data.

    Returns
    -------
    list of tuple
        One entry per node, in slice order: the names of the slices placed on it whole (empty
        without ``slices_per_node``), and the data of the monitors it hosts.
    """
    by_slice = {s.name: [m for m in monitors if m.slice_name == s.name] for s in topology.slices}
    per_slices = topology.placement.slices_per_node
    if per_slices is not None:
        names = list(by_slice)
        chunks = [names[k : k + per_slices] for k in range(0, len(names), per_slices)]
        return [(chunk, [m for name in chunk for m in by_slice[name]]) for chunk in chunks]
    per_node = topology.placement.monitors_per_node or 1
    return [
        ([], mine[first : first + per_node])
        for mine in by_slice.values()
        for first in range(0, len(mine), per_node)
    ]


def deploy(topology: Topology, monitors: list[MonitorData], run_id: str) -> Deployment:
    """Create the Ray nodes of the run's mode and place monitors and generator sides on them.

    In centralized mode the monitors also upload their training data to the controller's node
    here; the uploads' records are kept in the deployment.

    Parameters
    ----------
    topology
        The resolved topology (mode, model, placement, devices, seed).
    monitors
        Every monitor's prepared data, in topology order (see :func:`prepare_run`).
    run_id
        Prefixes the nodes' Ray actor names (``<run_id>-node-<k>``), so that runs that share a
        cluster do not clash.

    Returns
    -------
    Deployment
        The nodes, the groups they host with their members, and the device each group's
        generator side was placed on.

    Raises
    ------
    InputError
        If a slice manager's device is ``cuda`` but the Ray cluster has no GPU.
    """
    shape = GanShape.from_config(topology.model, len(monitors[0].metrics))
    node_class = ray.remote(TierNode)
    deployment = Deployment(shape)
    mode, seed, model = topology.mode, topology.seed, topology.model
    samples = {
        m.name: len(m.windows("train", model.window_length, model.window_stride)) for m in monitors
    }
    batch_critics = topology.placement.batch_critics
    unlabelled = frozenset(m.name for _, m in topology.monitors if not m.labelled_anomalies)
    numbers = itertools.count()
    slice_configs = {s.name: s for s in topology.slices}

    def node(gpus: float = 0.0) -> tuple[str, Any]:
        name = f"{run_id}-node-{next(numbers)}"
        options = {"name": name, "num_cpus": 0, "num_gpus": gpus, "max_concurrency": 1}
        return name, node_class.options(**options).remote(
            shape, model, seed, batch_critics, topology.payload, topology.data.injection,
            unlabelled,
        )  # fmt: skip

    def host_group(group: str, actor: tuple[str, Any], members: list[str]) -> None:
        """Record the node that hosts a training group and the group's monitors.

        Parameters
        ----------
        group
            The group's name: a slice, a monitor in standalone mode, or ``controller``.
        actor
            The node's Ray actor name and handle.
        members
            The monitors that train with the group and detect with its model.
        """
        deployment.actor_names[group], deployment.groups[group] = actor
        deployment.members[group] = members

    link = MONITOR_CONTROLLER if mode == "centralized" else MONITOR_SLICE
    split = mode in ("federated", "distributed")
    shares = dict(zip(
        [s.name for s in topology.slices],
        gpu_share([topology.slice_device(s) for s in topology.slices]) if split else [],
        strict=False,
    ))  # fmt: skip
    devices = {}
    loading = []
    for slices, hosted in node_layout(topology, monitors):
        actor = node(min(1.0, sum(shares.get(name, 0.0) for name in slices)))
        loading.append(actor[1].add_monitors.remote(hosted, None if mode == "standalone" else link))
        for data in hosted:
            deployment.hosts[data.name] = actor[1]
        roles = {"monitor": "monitor"}
        if mode == "standalone":  # every monitor is its own group, with its own G and E
            roles["slice_manager"] = "monitor"
            for data in hosted:
                host_group(data.name, actor, [data.name])
                devices[data.name] = actor[1].add_slice_manager.remote(
                    data.name, None, None, "cpu", standalone_seed(seed, data.name),
                    samples[data.name], [data.name],
                )  # fmt: skip
        elif split and slices:
            roles["slice_manager"] = "slice_manager"
            for slice_name in slices:
                names = [m.name for m in hosted if m.slice_name == slice_name]
                host_group(slice_name, actor, names)
                devices[slice_name] = actor[1].add_slice_manager.remote(
                    slice_name, None, MONITOR_SLICE,
                    topology.slice_device(slice_configs[slice_name]),
                    group_seed(topology, slice_name), sum(samples[n] for n in names), names,
                )  # fmt: skip
        deployment.tiers.append((actor[1], roles))
    ray.get(loading)  # every monitor is in place before a slice manager calls it
    if split and topology.placement.slices_per_node is None:
        for slice_ in topology.slices:
            names = [m.name for m in monitors if m.slice_name == slice_.name]
            actor = node(shares[slice_.name])
            host_group(slice_.name, actor, names)
            devices[slice_.name] = actor[1].add_slice_manager.remote(
                slice_.name, group_by_host(deployment, names), MONITOR_SLICE,
                topology.slice_device(slice_), group_seed(topology, slice_.name),
                sum(samples[n] for n in names),
            )  # fmt: skip
            deployment.tiers.append((actor[1], {"slice_manager": "slice_manager"}))
    elif mode == "centralized":
        uploads = [
            deployment.hosts[m.name].upload_training_data.remote(m.name, link) for m in monitors
        ]
        replies = ray.get(uploads)
        parts = [part for upload, _, _ in replies for part in upload]
        typed = [windows for _, windows, _ in replies if windows is not None]
        deployment.uploads = [
            {"upload": m.name, "link": link, **traffic_fields(sent, Traffic())}
            for m, (_, _, sent) in zip(monitors, replies, strict=True)
        ]
        actor = node(gpu_share([topology.device])[0])
        ray.get(actor[1].add_pooled_monitor.remote("controller", parts, typed))
        host_group("controller", actor, [m.name for m in monitors])
        devices["controller"] = actor[1].add_slice_manager.remote(
            "controller", None, None, topology.device, seed, sum(samples.values())
        )
        deployment.tiers.append(
            (actor[1], {"monitor": "controller", "slice_manager": "controller"})
        )
    deployment.devices = dict(zip(devices, ray.get(list(devices.values())), strict=True))
    return deployment


def group_seed(topology: Topology, slice_name: str) -> int:
    """The seed of a slice's G and E: shared in federated mode (FedAvg starts from one model),
    the slice's own otherwise.

    Parameters
    ----------
    topology
        The mode and the run's seed.
    slice_name
        The slice's name.

    Returns
    -------
    int
        The run's seed in federated mode, else the run's seed plus the slice name's hash.
    """
    if topology.mode == "federated":
        return topology.seed
    return topology.seed + stable_hash(slice_name)


def group_by_host(deployment: Deployment, names: list[str]) -> list[tuple[Any, list[str]]]:
    """The monitors ``names`` as (host node, hosted names), keeping their order.

    Parameters
    ----------
    deployment
        Its ``hosts``: the node of each monitor.
    names
        The monitors, in order.

    Returns
    -------
    list of tuple
        One entry per run of consecutive names on the same node: the node's actor handle and
        those names. A node appears more than once where its monitors are not consecutive.
    """
    groups: list[tuple[Any, list[str]]] = []
    for name in names:
        host = deployment.hosts[name]
        if groups and groups[-1][0] is host:
            groups[-1][1].append(name)
        else:
            groups.append((host, [name]))
    return groups


def unwrap(error: ray.exceptions.RayError) -> BaseException:
    """The exception a Ray actor method raised."""
    return getattr(error, "cause", None) or error


def run_failure(error: ray.exceptions.RayError) -> RunFailedError | None:
    """The one-line failure a Ray error stands for (a monitor's loss turned NaN, Ray out of
    memory), or ``None`` for any other error."""
    cause = unwrap(error)
    if isinstance(cause, DivergenceError | ray.exceptions.OutOfMemoryError):
        return RunFailedError(failure_reason(str(cause)))
    return None


def train_without_flower(
    deployment: Deployment, topology: Topology, on_round: RoundCallback
) -> None:
    """Rounds of L iterations on every group at once; no model leaves a group.

    Parameters
    ----------
    deployment
        The run's nodes and the groups they host.
    topology
        The iterations (I, after I_G for ``cmsf-attae``) and L.
    on_round
        Called after each round with the groups' records of it; after a round that diverged
        or ran out of memory with what the groups recorded, where every group can still give
        it.

    Raises
    ------
    RunFailedError
        If training diverged (a loss or weights not finite) or a Ray node ran out of memory.
    """
    model = topology.model
    for start in range(0, model.training_iterations, model.local_iterations):
        count = min(model.local_iterations, model.training_iterations - start)
        groups = deployment.groups.items()
        try:
            ray.get([node.train_round.remote(name, start, count) for name, node in groups])
        except ray.exceptions.RayError as error:
            failure = run_failure(error)
            if failure is None:
                raise
            keep_records_after_failure(deployment, on_round)
            raise failure from None
        on_round(collect_records(deployment))


def collect_records(deployment: Deployment) -> list[dict[str, Any]]:
    """Iteration records the groups kept since the last round, in group order."""
    replies = ray.get([node.take_records.remote(name) for name, node in deployment.groups.items()])
    return [record.as_dict() for reply in replies for record in reply]


def keep_records_after_failure(deployment: Deployment, on_round: RoundCallback) -> None:
    """Hand ``on_round`` the records of the failed round if every group can still give them;
    where Ray killed a node (out of memory) they are all left out, so that the failure's own
    message is what the user sees.

    Parameters
    ----------
    deployment
        The run's actors.
    on_round
        Where each round's records go (``metrics.jsonl``).
    """
    try:
        on_round(collect_records(deployment))
    except ray.exceptions.RayError:
        return


def detect_everywhere(
    deployment: Deployment,
    topology: Topology,
    global_model: list[np.ndarray] | None,
    first: int = 0,
) -> dict[str, MonitorReport]:
    """Send each monitor the model it detects with (G and E, and the critic in centralized
    mode; or the local model) and score and evaluate it there.

    In federated mode ``global_model`` is what the controller last sent every slice: the global
    model's arrays from ``first`` on (the slices hold the others already).

    Parameters
    ----------
    deployment
        The run's nodes, the groups they host and each group's monitors.
    topology
        The mode and the evaluation settings (threshold methods, control detectors).
    global_model
        Federated mode: the global model's arrays from ``first`` on, as the slices received
        them; each group loads them first. Unused in the other modes (``None``).
    first
        The index in the whole model of the first array of ``global_model``: 0, or for
        ``cmsf-attae`` where ATTAE's arrays start.

    Returns
    -------
    dict
        Each monitor's evaluation, by monitor name.

    Raises
    ------
    RunFailedError
        If a monitor's fine-tuning or scores are not finite, or a Ray node ran out of memory.
    """
    jobs = {}
    for group_name, group in deployment.groups.items():
        members = deployment.members[group_name]
        if topology.mode == "federated":
            ray.get(group.load_generator_arrays.remote(group_name, global_model, first))
        if topology.mode == "standalone":
            arrays, critic = ray.get(group.generator_arrays.remote(group_name)), None
        elif topology.mode == "centralized":
            arrays, critic = ray.get(
                group.send_model.remote(group_name, MONITOR_CONTROLLER, len(members), "controller")
            )
        else:
            arrays, critic = ray.get(
                group.send_model.remote(group_name, MONITOR_SLICE, len(members))
            )
        for name in members:
            jobs[name] = deployment.hosts[name].score.remote(
                name, arrays, critic, topology.evaluation
            )
    try:
        return dict(zip(jobs, ray.get(list(jobs.values())), strict=True))
    except ray.exceptions.RayError as error:  # a monitor's fine-tuning diverged
        failure = run_failure(error)
        if failure is None:
            raise
        raise failure from None


def save_checkpoints(run: RunDirectory, deployment: Deployment, topology: Topology) -> None:
    """Global (or per-group) G and E and every monitor's critic, or the local model and each
    monitor's fine-tuned copy.

    In federated and centralized mode the first group's model is saved as ``<part>.pt``, in
    the other modes every group's as ``<part>-<group>.pt``; the critics as
    ``critic-<monitor>.pt`` (centralized: the controller's one ``critic.pt``), fine-tuned local
    models as ``personalised-<monitor>.pt``.

    Parameters
    ----------
    run
        The run directory; the files go in its ``checkpoints`` folder.
    deployment
        The run's nodes, the groups they host and each monitor's node.
    topology
        The mode and the model (split or local, fine-tuned or not).
    """
    shared = topology.mode in ("federated", "centralized")
    for group_name, group in deployment.groups.items():
        states = ray.get(group.checkpoint.remote(group_name))
        suffix = "" if shared else f"-{group_name}"
        for part, state in states.items():
            run.save_checkpoint(f"{part}{suffix}", state)
        if shared:
            break
    if topology.model.is_local:
        if topology.model.fine_tune_iterations:
            for name, host in deployment.hosts.items():
                run.save_checkpoint(
                    f"personalised-{name}", ray.get(host.personalised_state.remote(name))
                )
        return
    if topology.mode == "centralized":
        critic = ray.get(deployment.groups["controller"].critic_state.remote("controller"))
        run.save_checkpoint("critic", critic)
        return
    for name, host in deployment.hosts.items():
        run.save_checkpoint(f"critic-{name}", ray.get(host.critic_state.remote(name)))


def prepare_run(topology: Topology, out: Path, ray_address: str | None = None) -> list[MonitorData]:
    """Everything that can fail on bad input before anything is written or started.

    Parameters
    ----------
    topology
        The resolved topology.
    out
        The run directory to create.
    ray_address
        The Ray cluster the run will join (``--ray-address``), checked for an answer;
        ``None`` for a local one.

    Returns
    -------
    list of MonitorData
        Every monitor's data, in topology order, without its values in source units
        (:meth:`MonitorData.for_training`).

    Raises
    ------
    InputError
        For bad data, a batch larger than a monitor's data, a run directory that holds an
        earlier run or cannot be written, or an unreachable Ray address.
    """
    check_free(out)
    monitors = [monitor.for_training() for monitor in prepare_monitors(topology)]
    check_sizes(topology, monitors)
    check_reachable(ray_address)
    return monitors


def simulate(
    topology: Topology,
    out: Path,
    ray_address: str | None = None,
    verbose: bool = False,
    on_progress: Callable[[int, dict[str, Any]], None] | None = None,
    monitors: list[MonitorData] | None = None,
    live: LiveMetrics | None = None,
    grid: Grid | None = None,
) -> dict[str, Any]:
    """Run one simulation and write its run directory.

    Parameters
    ----------
    topology
        The resolved topology (mode, model, data, slices).
    out
        Run directory to create.
    ray_address
        An existing Ray cluster to join; ``None`` starts a local one.
    verbose
        Show Ray's and Flower's logging on the console as well as in ``run.log``.
    on_progress
        Called after every round with the iterations done and the latest numbers.
    monitors
        The monitors' data from :func:`prepare_run`, if already prepared.
    live
        A Prometheus endpoint to keep up to date while the run goes.
    grid
        Set inside a Flower ServerApp that Flower's own runtime runs (``flwr run``): the run
        uses the Ray session Flower's simulation engine holds (``ray_address`` is ignored) and
        federated mode drives FedAvg on this grid, with the slices as that engine's ClientApps,
        instead of starting a simulation of its own.

    Returns
    -------
    dict
        The summary also written to ``summary.json``.

    Raises
    ------
    InputError
        For bad data, sizes or an unreachable Ray cluster.
    RunFailedError
        If a monitor's loss turned NaN; the run directory keeps everything written so far.
    """
    if monitors is None:
        monitors = prepare_run(topology, out, ray_address)
    started = time.perf_counter()  # wall_seconds: the data are prepared, the rest counts
    run = RunDirectory(out)
    run.write_config(topology)
    run_id = uuid.uuid4().hex[:8]
    totals = {"iterations": 0, "bytes": 0}
    records_seen: list[dict[str, Any]] = []
    every_record: list[dict[str, Any]] = []

    def on_round(records: list[dict[str, Any]]) -> None:
        run.append_metrics(records)
        every_record.extend(records)
        if live is not None:
            live.record(records)
        totals["bytes"] += sum(r["up_bytes"] + r["down_bytes"] for r in records)
        records = [r for r in records if "iteration" in r]
        if not records:
            return
        records_seen.extend(records)
        totals["iterations"] = max(r["iteration"] for r in records) + 1
        if on_progress is not None:
            latest = [r for r in records if r["iteration"] == totals["iterations"] - 1]
            on_progress(
                totals["iterations"],
                {
                    **{k: float(np.mean([r[k] for r in latest])) for k in LOSSES if k in latest[0]},
                    "bytes": totals["bytes"],
                },
            )

    try:
        session = (
            ray_session(ray_address, f"fedanomaly-{run_id}", run.log_file, verbose)
            if grid is None
            else joined_session(run.log_file, verbose)
        )
        with session as namespace:
            deployment = deploy(topology, monitors, run_id)
            if deployment.uploads:
                on_round(deployment.uploads)
            training_started = time.perf_counter()
            outcome: dict[str, Any] = {}
            controller_meter, controller_clock = Meter(), Stopwatch()
            if topology.mode == "federated":
                outcome = run_federated(topology, deployment, namespace, on_round, run, grid)
                controller_meter, controller_clock = outcome["meter"], outcome["clock"]
            else:
                train_without_flower(deployment, topology, on_round)
                outcome["training_seconds"] = time.perf_counter() - training_started
                outcome["detections"] = detect_everywhere(deployment, topology, None)
                save_checkpoints(run, deployment, topology)
                outcome["accounts"] = collect_accounts(deployment)
    except InputError:  # refused before training (cluster, devices): leave nothing behind
        run.remove()
        raise
    except RunFailedError as error:  # a diverged monitor: run.log says so too
        run.log_line(f"run stopped: {str(error).removesuffix(SEE_LOG)}")
        raise
    except ray.exceptions.OutOfMemoryError as error:
        reason = failure_reason(str(error))
        run.log_line(f"run stopped: {reason}")
        raise RunFailedError(reason) from None
    except (ray.exceptions.RayActorError, ray.exceptions.NodeDiedError) as error:
        # the cluster went away (a `ray stop`, a node lost) or an actor's process died
        first = next(iter(str(error).strip().splitlines()), "")
        reason = f"a Ray actor or node of this run stopped ({type(error).__name__}: {first})"
        run.log_line(f"run stopped: {reason}")
        raise RunFailedError(f"{reason}; run.log holds Ray's report") from None
    except Exception as error:  # a defect: its traceback goes to the console, a line here
        run.log_line(f"run stopped by an error: {type(error).__name__}: {error}")
        raise
    summary = build_summary(
        topology,
        monitors,
        outcome["detections"],
        outcome["accounts"],
        controller_meter,
        controller_clock,
        controller_memory=outcome.get("controller_memory", 0),
        devices=deployment.devices,
        rounds=math.ceil(topology.model.training_iterations / topology.model.local_iterations)
        if topology.mode == "federated"
        else 0,
        wall_seconds=time.perf_counter() - started,
        training_seconds=outcome["training_seconds"],
        records=every_record,
    )
    for name, report in outcome["detections"].items():
        deployed = report.step_thresholds[topology.evaluation.threshold]  # per test step
        if live is not None:
            live.detected(name, report.scores, report.preds, float(deployed[-1]))
        thresholds = {f"threshold_{method}": cut for method, cut in report.step_thresholds.items()}
        run.save_scores(
            name,
            {"scores": report.scores, "preds": report.preds,
             "labels": anomaly_labels(report.types), "types": report.types,
             "beyond_range": report.beyond_range,
             "threshold": deployed,
             **thresholds,
             "lengths": np.array(report.test_lengths or (len(report.scores),), dtype=np.int64),
             "vus_window": np.array(report.vus_window, dtype=np.int64)},
        )  # fmt: skip
    plot_losses(
        records_seen,
        run.path / "losses.png",
        f"{topology.name}: {topology.mode} {topology.model.name}",
    )
    run.write_summary(summary)
    return summary


def run_federated(
    topology: Topology,
    deployment: Deployment,
    namespace: str,
    on_round: RoundCallback,
    run: RunDirectory,
    grid: Grid | None = None,
) -> dict[str, Any]:
    """Algorithm 2 through Flower's simulation engine; detection before its Ray session ends.

    Without ``grid`` this starts Flower's simulation engine itself (``run_simulation``) with
    :func:`controller_app`; with one it is already inside a ServerApp that ``flwr run`` started
    and runs the controller on that grid.

    Parameters
    ----------
    topology
        The resolved topology (federated mode).
    deployment
        The run's nodes, from :func:`deploy`.
    namespace
        The Ray namespace the nodes are named in; the ClientApps find their slice's node there.
    on_round
        Called after each FedAvg round with the groups' iteration records and the round's
        own record; after a failure with what the groups recorded, where they can still give
        it.
    run
        The run directory, where the checkpoints go after training.
    grid
        Flower's grid inside a ServerApp that ``flwr run`` started; ``None`` starts Flower's
        simulation engine.

    Returns
    -------
    dict
        ``training_seconds``, ``detections`` (each monitor's evaluation, by name),
        ``accounts`` (per tier, :func:`collect_accounts`), ``controller_memory`` (bytes of
        the global model it keeps), and the controller's ``meter`` and ``clock``.

    Raises
    ------
    RunFailedError
        If a slice reported a diverged monitor or a node out of memory, a slice did not
        answer, Ray ran out of memory, detection failed (:func:`detect_everywhere`), or the
        simulation ended before training finished.
    SliceCrashError
        If a slice failed for any other reason (its traceback in the message); any other
        error of the controller is raised as it is too.
    """
    model = topology.model
    outcome: dict[str, Any] = {}
    started = time.perf_counter()
    initial = initial_model(deployment.shape, topology)
    outcome["controller_memory"] = sum(a.nbytes for a in initial)  # the global model it keeps
    cpus = ray.cluster_resources().get("CPU", 1.0)
    slice_nodes = len(set(deployment.actor_names.values()))

    rounds = math.ceil(model.training_iterations / model.local_iterations)
    trained = trained_per_round(topology, deployment.shape, initial)

    def after_training(final: list[np.ndarray]) -> None:
        outcome["training_seconds"] = time.perf_counter() - started
        last = trained(rounds)  # what the last round changed
        part = final[last]
        received = part
        for _ in deployment.groups:  # the final global model back to every slice (eq. 26)
            arrived, _ = federation.meter.transmit(
                SLICE_CONTROLLER, "down", positional(part), topology.payload.models
            )
            received = from_positional(arrived, len(part))
        outcome["detections"] = detect_everywhere(deployment, topology, received, last.start)
        save_checkpoints(run, deployment, topology)
        outcome["accounts"] = collect_accounts(deployment)

    federation = Federation(
        namespace=namespace,
        slice_names=[s.name for s in topology.slices],
        slice_nodes=[deployment.actor_names[s.name] for s in topology.slices],
        rounds=rounds,
        iterations=model.training_iterations,
        local_iterations=model.local_iterations,
        initial=initial,
        precision=topology.payload.models,
        trained=trained,
        on_round=lambda round_record: on_round([*collect_records(deployment), round_record]),
        after_training=after_training,
        on_failure=lambda: keep_records_after_failure(deployment, on_round),
    )
    if grid is not None:
        run_controller(federation, grid)
    else:
        run_simulation(
            server_app=controller_app(federation),
            client_app=slice_app,
            num_supernodes=len(topology.slices),
            # As many Flower workers as nodes hosting slices: a ClientApp only waits on its
            # slice's node, and slices that share a node train one after the other anyway.
            backend_config={"client_resources": {"num_cpus": cpus / slice_nodes, "num_gpus": 0.0}},
        )
    if federation.error is not None:
        error = federation.error
        if isinstance(error, SliceFailureError | ray.exceptions.OutOfMemoryError):
            raise RunFailedError(failure_reason(str(error))) from None
        raise error
    if "detections" not in outcome:
        raise RunFailedError(f"the Flower simulation ended before training finished{SEE_LOG}")
    outcome["meter"], outcome["clock"] = federation.meter, federation.stopwatch
    return outcome


def collect_accounts(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Traffic, compute time and peak memory per tier, from every node."""
    tiers: dict[str, dict[str, Any]] = {}
    replies = ray.get([node.accounts.remote() for node, _ in deployment.tiers])
    for (_, mapping), accounts in zip(deployment.tiers, replies, strict=True):
        held: dict[str, int] = {}
        for role, tier in mapping.items():
            if role not in accounts:
                continue
            entry = tiers.setdefault(tier, {"meter": Meter(), "clock": Stopwatch(), "memory": 0})
            entry["meter"].merge(accounts[role]["meter"])
            entry["clock"].add(accounts[role]["clock"])
            held[tier] = held.get(tier, 0) + accounts[role]["memory"]
        for tier, memory in held.items():  # peak of one node of the tier
            tiers[tier]["memory"] = max(tiers[tier]["memory"], memory)
    return tiers
