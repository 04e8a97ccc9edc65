"""The network controller as a Flower ServerApp running Flower's FedAvg, and the slice nodes as
the ClientApp that Flower's simulation engine calls once per round.

Per round the controller sends the global model (G and E) to every slice node; each slice
manager runs L iterations of Algorithm 1 with its monitors over direct Ray actor calls and
answers with its G and E and its training-set size, by which FedAvg weights it (eq. 27). The
strategy's hooks meter what the controller sends and hand each round's results to the run.

A model trained in phases (``cmsf-attae``: G, then ATTAE) trains only some of its arrays in a
round. Only those go up, and down go only the arrays the last round changed (in the first round
the arrays it trains): the other arrays are the same at every slice and at the controller (all
slices start from the same seeded weights), so averaging them would change nothing. The
strategy splices each round's average into the global model it keeps.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import ray
from flwr.app import ArrayRecord, ConfigRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import SLICE_CONTROLLER, Meter, Traffic, traffic_fields
from fedanomaly.metering.precision import Precision
from fedanomaly.metering.wire import from_positional, positional
from fedanomaly.tiers.monitor import DivergenceError

#: Error codes of a slice's reply: a failure the run reports in one line (a diverged monitor,
#: a node out of memory), and any other error, whose reason carries its traceback.
ERROR_CODE = 4242
CRASH_CODE = 4243


class SliceFailureError(Exception):
    """A slice reported a failure (a diverged monitor); the reason says which and when."""


class SliceCrashError(Exception):
    """A slice failed for any other reason (a defect); the message holds its traceback."""


slice_app = ClientApp()


@slice_app.train()
def train_slice(msg: Message, context: Context) -> Message:
    """One FedAvg round on a slice node: load what the controller sent (the global model, or
    the part of it the last round changed), train L iterations, reply with the part trained.

    Parameters
    ----------
    msg
        The controller's train message: the arrays it sends and, in its config, the round,
        I and L, the array ranges (``down-first``, ``up-first``, ``up-stop``), and the slices'
        names, Ray nodes and namespace.
    context
        Flower's context; ``partition-id`` in its node config picks the slice.

    Returns
    -------
    Message
        The trained arrays with Q_s (``num-examples``), the slice's index and the bytes the
        upload sent; or, where a Ray call failed, an error: ``ERROR_CODE`` for a diverged
        monitor or a node out of memory, ``CRASH_CODE`` with the traceback otherwise.
    """
    index = int(context.node_config["partition-id"])
    config = msg.content["config"]
    local, total = int(config["local-iterations"]), int(config["iterations"])
    start = (int(config["server-round"]) - 1) * local
    group = str(config["slice-names"][index])
    try:
        node = ray.get_actor(str(config["slice-nodes"][index]), namespace=str(config["namespace"]))
        arrays = msg.content["arrays"].to_numpy_ndarrays()
        ray.get(node.load_generator_arrays.remote(group, arrays, int(config["down-first"])))
        ray.get(node.train_round.remote(group, start, min(local, total - start)))
        trained = slice(int(config["up-first"]), int(config["up-stop"]))
        arrays, samples, sent = ray.get(node.upload_model.remote(group, SLICE_CONTROLLER, trained))
    except (ray.exceptions.RayError, ValueError) as error:  # ValueError: the node is gone
        cause = getattr(error, "cause", None) or error
        if isinstance(cause, DivergenceError | ray.exceptions.OutOfMemoryError):
            return Message(Error(code=ERROR_CODE, reason=str(cause)), reply_to=msg)
        reason = "".join(traceback.format_exception(error))
        return Message(Error(code=CRASH_CODE, reason=reason), reply_to=msg)
    metrics = MetricRecord(
        {
            "num-examples": int(samples),
            "slice-index": index,
            "sent-payload-bytes": sent.payload_bytes,
            "sent-framing-bytes": sent.framing_bytes,
        }
    )
    return Message(RecordDict({"arrays": ArrayRecord(arrays), "metrics": metrics}), reply_to=msg)


RoundParts = Callable[[int], slice]
"""Server round -> the model's arrays that the slices train in that round, as a slice with
explicit start and stop."""


class MeteredFedAvg(FedAvg):
    """Flower's FedAvg, hooked to send and average only the arrays a round trains, to meter the
    controller's sends (at the payload precision of models, each slice getting the arrays as
    decoded), and to report each round.

    Replies are aggregated in slice order, so the same seed gives the same global model
    whatever order the slices finish in.
    """

    def __init__(
        self,
        slices: int,
        meter: Meter,
        stopwatch: Stopwatch,
        on_round: Callable[[dict[str, int]], None],
        trained: RoundParts,
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
        self.trained = trained
        self.sent_down = Traffic()
        self.global_model: list[np.ndarray] = []
        self.up = slice(0, 0)

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """FedAvg's train messages, each carrying only the arrays the last round changed (in
        round 1 those the round trains), encoded and metered at the models' precision.

        Parameters
        ----------
        server_round
            The FedAvg round, from 1.
        arrays
            The whole global model.
        config
            The run's settings for the slices (their names and nodes, I and L).
        grid
            Flower's grid of slice nodes.

        Returns
        -------
        Iterable of Message
            One message per slice, with the round's array range in its config.
        """
        messages = list(super().configure_train(server_round, arrays, config, grid))
        self.global_model = arrays.to_numpy_ndarrays()
        # round 1 starts the part it trains; later rounds bring what the last round averaged
        changed = self.trained(max(server_round - 1, 1))
        self.up = self.trained(server_round)
        part = self.global_model[changed]
        self.sent_down = Traffic()
        for message in messages:  # each slice gets the part as decoded at the precision
            received, sent = self.meter.transmit(
                SLICE_CONTROLLER, "down", positional(part), self.precision
            )
            message.content["arrays"] = ArrayRecord(from_positional(received, len(part)))
            message.content["config"]["down-first"] = changed.start
            message.content["config"]["up-first"] = self.up.start
            message.content["config"]["up-stop"] = self.up.stop
            self.sent_down.add(sent)
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """FedAvg of the slices' replies in slice order, weighted by their training windows,
        spliced into the global model; the round's traffic goes to ``on_round``.

        Parameters
        ----------
        server_round
            The FedAvg round, from 1.
        replies
            One reply per slice.

        Returns
        -------
        tuple
            The new global model and FedAvg's averaged metrics.

        Raises
        ------
        SliceFailureError
            If a slice reported a diverged monitor or a node out of memory, or a slice did not
            answer.
        SliceCrashError
            If a slice failed for any other reason (its traceback in the message), or the
            slices sent another number of arrays than the round trains.
        """
        replies = list(replies)
        failed = [r.error for r in replies if r.has_error()]
        if failed and failed[0].code == ERROR_CODE:
            raise SliceFailureError(failed[0].reason)
        if failed:
            raise SliceCrashError(
                f"a slice failed in FedAvg round {server_round}:\n{failed[0].reason}"
            )
        if len(replies) != self.slices:
            raise SliceFailureError(
                f"only {len(replies)} of {self.slices} slices answered FedAvg round {server_round}"
            )
        replies.sort(key=lambda r: int(r.content["metrics"]["slice-index"]))
        with self.stopwatch.timing():
            averaged, metrics = super().aggregate_train(server_round, replies)
            model = list(self.global_model)
            if averaged is not None:
                part = averaged.to_numpy_ndarrays()
                if len(part) != len(model[self.up]):  # a defect, not a failed monitor
                    raise SliceCrashError(
                        f"FedAvg round {server_round}: the slices sent {len(part)} arrays, "
                        f"not the {len(model[self.up])} the round trains"
                    )
                model[self.up] = part
        received = Traffic()
        for reply in replies:  # what each slice node metered when it sent its reply
            sender = reply.content["metrics"]
            sent = (int(sender["sent-payload-bytes"]), int(sender["sent-framing-bytes"]), 1)
            received.add(Traffic(*sent))
        self.on_round(
            {
                "round": server_round,
                "link": SLICE_CONTROLLER,
                **traffic_fields(received, self.sent_down),
            }
        )
        return ArrayRecord(model), metrics


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
    trained: RoundParts  # the arrays each round trains
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

    Parameters
    ----------
    federation
        What the run hands the ServerApp (slices, rounds, initial model, hooks), and where
        it leaves a failure.
    grid
        Flower's grid of slice nodes.
    """
    strategy = MeteredFedAvg(
        len(federation.slice_names),
        federation.meter,
        federation.stopwatch,
        federation.on_round,
        federation.trained,
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
        """The ServerApp's main: :func:`run_controller` on ``grid``.

        Parameters
        ----------
        grid
            Flower's grid of slice nodes.
        context
            Flower's context (not used).
        """
        run_controller(federation, grid)

    return app
