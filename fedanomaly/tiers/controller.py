"""The network controller as a Flower ServerApp running Flower's FedAvg, and the slice nodes as
the ClientApp that Flower's simulation engine calls once per round.

Per round the controller sends the global G and E to every slice node; each slice manager runs
L iterations of Algorithm 1 with its monitors over direct Ray actor calls and answers with its G
and E and its training-set size, by which FedAvg weights it (eq. 27). The strategy's two hooks
meter what the controller sends and hand each round's results to the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import ray
from flwr.app import ArrayRecord, ConfigRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import Meter, Traffic, traffic_fields
from fedanomaly.metering.precision import Precision
from fedanomaly.metering.wire import from_positional, positional

SLICE_CONTROLLER = "slice_controller"
ERROR_CODE = 4242


class SliceFailureError(Exception):
    """A slice reported a failure (a diverged monitor); the reason says which and when."""


slice_app = ClientApp()


@slice_app.train()
def train_slice(msg: Message, context: Context) -> Message:
    """One FedAvg round on a slice node: load the global model, train L iterations, reply."""
    index = int(context.node_config["partition-id"])
    config = msg.content["config"]
    local, total = int(config["local-iterations"]), int(config["iterations"])
    start = (int(config["server-round"]) - 1) * local
    group = str(config["slice-names"][index])
    node = ray.get_actor(str(config["slice-nodes"][index]), namespace=str(config["namespace"]))
    try:
        arrays = msg.content["arrays"].to_numpy_ndarrays()
        ray.get(node.load_generator_arrays.remote(group, arrays))
        ray.get(node.train_round.remote(group, start, min(local, total - start)))
        arrays, samples, sent = ray.get(node.upload_model.remote(group, SLICE_CONTROLLER))
    except ray.exceptions.RayError as error:  # a diverged monitor, a node out of memory
        reason = str(error.cause) if getattr(error, "cause", None) else str(error)
        return Message(Error(code=ERROR_CODE, reason=reason), reply_to=msg)
    metrics = MetricRecord(
        {
            "num-examples": int(samples),
            "slice-index": index,
            "sent-payload-bytes": sent.payload_bytes,
            "sent-framing-bytes": sent.framing_bytes,
        }
    )
    return Message(RecordDict({"arrays": ArrayRecord(arrays), "metrics": metrics}), reply_to=msg)


class MeteredFedAvg(FedAvg):
    """Flower's FedAvg with two hooks: meter the controller's sends (at the payload precision
    of models, each slice getting the model as decoded), report each round.

    Replies are aggregated in slice order, so the same seed gives the same global model
    whatever order the slices finish in.
    """

    def __init__(
        self,
        slices: int,
        meter: Meter,
        stopwatch: Stopwatch,
        on_round: Callable[[dict[str, int]], None],
        precision: Precision = "float32",
    ) -> None:
        super().__init__(
            fraction_train=1.0,
            fraction_evaluate=0.0,
            min_train_nodes=slices,
            min_available_nodes=slices,
            weighted_by_key="num-examples",
        )
        self.slices = slices
        self.meter = meter
        self.stopwatch = stopwatch
        self.on_round = on_round
        self.precision = precision
        self.sent_down = Traffic()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        messages = list(super().configure_train(server_round, arrays, config, grid))
        model = arrays.to_numpy_ndarrays()
        self.sent_down = Traffic()
        for message in messages:  # each slice gets the model as decoded at the precision
            received, sent = self.meter.transmit(
                SLICE_CONTROLLER, "down", positional(model), self.precision
            )
            message.content["arrays"] = ArrayRecord(from_positional(received, len(model)))
            self.sent_down.add(sent)
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = list(replies)
        failed = [r for r in replies if r.has_error()]
        if failed:
            raise SliceFailureError(failed[0].error.reason)
        if len(replies) != self.slices:
            raise SliceFailureError(
                f"only {len(replies)} of {self.slices} slices answered FedAvg round {server_round}"
            )
        replies.sort(key=lambda r: int(r.content["metrics"]["slice-index"]))
        with self.stopwatch.timing():
            result = super().aggregate_train(server_round, replies)
        received = Traffic()
        for reply in replies:  # what each slice node metered when it sent its reply
            metrics = reply.content["metrics"]
            sent = (int(metrics["sent-payload-bytes"]), int(metrics["sent-framing-bytes"]), 1)
            received.add(Traffic(*sent))
        self.on_round(
            {
                "round": server_round,
                "link": SLICE_CONTROLLER,
                **traffic_fields(received, self.sent_down),
            }
        )
        return result


@dataclass
class Federation:
    """What the ServerApp needs from the run, and what it leaves for it."""

    namespace: str
    slice_names: list[str]
    slice_nodes: list[str]  # Ray name of the node that hosts each slice
    rounds: int
    iterations: int
    local_iterations: int
    initial: list[np.ndarray]
    precision: Precision  # of the models it sends (payload.models)
    on_round: Callable[[dict[str, int]], None]
    after_training: Callable[[list[np.ndarray]], None]
    on_failure: Callable[[], None]
    meter: Meter = field(default_factory=Meter)
    stopwatch: Stopwatch = field(default_factory=Stopwatch)
    error: BaseException | None = None


def run_controller(federation: Federation, grid: Grid) -> None:
    """FedAvg over the slices for the planned rounds on ``grid``, then the run's last steps.

    The body of the ServerApp's main, whichever runtime hands it the grid: our own
    ``run_simulation`` (:func:`controller_app`) or ``flwr run`` (``fedanomaly.flower_app``).
    Any failure is kept in ``federation.error`` for the caller.
    """
    strategy = MeteredFedAvg(
        len(federation.slice_names),
        federation.meter,
        federation.stopwatch,
        federation.on_round,
        federation.precision,
    )
    config = ConfigRecord(
        {
            "namespace": federation.namespace,
            "slice-names": federation.slice_names,
            "slice-nodes": federation.slice_nodes,
            "iterations": federation.iterations,
            "local-iterations": federation.local_iterations,
        }
    )
    try:
        result = strategy.start(
            grid,
            ArrayRecord(federation.initial),
            num_rounds=federation.rounds,
            train_config=config,
        )
        final = result.arrays.to_numpy_ndarrays()
        federation.after_training(final)
    except BaseException as error:  # handed to the caller, which re-raises
        federation.error = error
        federation.on_failure()


def controller_app(federation: Federation) -> ServerApp:
    """The ServerApp: FedAvg over the slices for the planned rounds, then the run's last steps.

    ``after_training`` runs inside the ServerApp, while the Ray session that Flower's engine
    holds is still up. Any failure is kept in ``federation.error`` for the caller.
    """
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        run_controller(federation, grid)

    return app
