"""The controller's FedAvg hook on slice replies as Flower delivers them: failures told apart,
the average weighted by training windows and spliced into the global model, traffic reported."""

from __future__ import annotations

import numpy as np
import pytest
import ray
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Error,
    Message,
    Metadata,
    MetricRecord,
    RecordDict,
)

from fedanomaly.metering.clock import Stopwatch
from fedanomaly.metering.meter import SLICE_CONTROLLER, Meter
from fedanomaly.tiers.controller import (
    CRASH_CODE,
    ERROR_CODE,
    MeteredFedAvg,
    SliceCrashError,
    SliceFailureError,
    train_slice,
)


def reply(node: int, content: RecordDict | None = None, error: Error | None = None) -> Message:
    """A slice node's reply to a train message, with the metadata Flower gives it."""
    metadata = Metadata(
        run_id=1, message_id=f"m{node}", src_node_id=node, dst_node_id=0,
        reply_to_message_id="i", group_id="1", created_at=0.0, ttl=60.0, message_type="train",
    )  # fmt: skip
    return Message(content=content, error=error, metadata=metadata)


def trained_reply(node: int, index: int, arrays: list[np.ndarray], examples: int) -> Message:
    metrics = MetricRecord(
        {
            "num-examples": examples,
            "slice-index": index,
            "sent-payload-bytes": 100 * (index + 1),
            "sent-framing-bytes": 7,
        }
    )
    return reply(node, RecordDict({"arrays": ArrayRecord(arrays), "metrics": metrics}))


def strategy(slices: int, rounds: list[dict[str, int]]) -> MeteredFedAvg:
    """A strategy whose last train messages sent a three-array model and asked for arrays 1-2."""
    fedavg = MeteredFedAvg(slices, Meter(), Stopwatch(), rounds.append, lambda _: slice(1, 3))
    fedavg.global_model = [np.full(2, 9.0, np.float32), np.zeros(3, np.float32), np.zeros(1)]
    fedavg.up = slice(1, 3)
    return fedavg


def test_replies_are_averaged_by_training_windows_into_the_trained_part():
    rounds: list[dict[str, int]] = []
    fedavg = strategy(2, rounds)
    first = [np.array([1.0, 2.0, 3.0], np.float32), np.array([4.0])]
    second = [np.array([5.0, 6.0, 7.0], np.float32), np.array([8.0])]
    # replies arrive in any order; slice 1 holds three times slice 0's windows
    model, _ = fedavg.aggregate_train(
        3, [trained_reply(12, 1, second, 300), trained_reply(11, 0, first, 100)]
    )
    averaged = model.to_numpy_ndarrays()
    np.testing.assert_array_equal(averaged[0], np.full(2, 9.0))  # not trained this round
    np.testing.assert_allclose(averaged[1], (first[0] * 100 + second[0] * 300) / 400)
    np.testing.assert_allclose(averaged[2], (first[1] * 100 + second[1] * 300) / 400)
    assert rounds == [
        {
            "round": 3, "link": SLICE_CONTROLLER, "up_bytes": 100 + 7 + 200 + 7,
            "down_bytes": 0, "up_messages": 2, "down_messages": 0,
        }
    ]  # fmt: skip


def test_a_diverged_slice_is_one_line_and_a_defect_keeps_its_traceback():
    fedavg = strategy(2, [])
    ok = trained_reply(11, 0, [np.zeros(3, np.float32), np.zeros(1)], 10)
    diverged = reply(12, error=Error(code=ERROR_CODE, reason="monitor m: losses turned NaN"))
    with pytest.raises(SliceFailureError, match=r"^monitor m: losses turned NaN$"):
        fedavg.aggregate_train(2, [ok, diverged])
    trace = "Traceback (most recent call last):\n  File ...\nZeroDivisionError: division by zero"
    crashed = reply(12, error=Error(code=CRASH_CODE, reason=trace))
    with pytest.raises(SliceCrashError) as raised:
        fedavg.aggregate_train(2, [ok, crashed])
    assert str(raised.value) == f"a slice failed in FedAvg round 2:\n{trace}"


def test_a_missing_slice_is_a_failure_and_a_wrong_array_count_a_defect():
    fedavg = strategy(2, [])
    ok = trained_reply(11, 0, [np.zeros(3, np.float32), np.zeros(1)], 10)
    with pytest.raises(SliceFailureError, match=r"^only 1 of 2 slices answered FedAvg round 4$"):
        fedavg.aggregate_train(4, [ok])
    short = trained_reply(12, 1, [np.zeros(3, np.float32)], 10)
    with pytest.raises(SliceCrashError, match=r"the slices sent 1 arrays, not the 2"):
        fedavg.aggregate_train(4, [trained_reply(11, 0, [np.zeros(3, np.float32)], 10), short])


def test_a_slice_node_that_is_gone_is_a_crash_reply_not_an_exception(ray_address):
    """The slice's Ray actor no longer exists (a lost node): the ClientApp still replies, with
    the lookup's traceback, so that the controller ends the run with it."""
    config = ConfigRecord({
        "local-iterations": 2, "iterations": 4, "server-round": 1, "slice-names": ["s"],
        "slice-nodes": ["gone-node"], "namespace": "fedanomaly-no-such-run",
        "down-first": 0, "up-first": 0, "up-stop": 1,
    })  # fmt: skip
    metadata = Metadata(
        run_id=1, message_id="m1", src_node_id=0, dst_node_id=1, reply_to_message_id="",
        group_id="1", created_at=0.0, ttl=60.0, message_type="train",
    )  # fmt: skip
    content = RecordDict({"arrays": ArrayRecord([np.zeros(2, np.float32)]), "config": config})
    context = Context(
        run_id=1, node_id=1, node_config={"partition-id": 0}, state=RecordDict(), run_config={}
    )
    ray.init(address=ray_address)
    try:
        answer = train_slice(Message(content=content, metadata=metadata), context)
    finally:
        ray.shutdown()
    assert answer.has_error() and answer.error.code == CRASH_CODE
    assert "Failed to look up actor with name 'gone-node'" in answer.error.reason
