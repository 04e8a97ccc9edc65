"""The metered wire format against real serialization, and the traffic counters."""

from __future__ import annotations

import numpy as np

from fedanomaly.metering.meter import Meter
from fedanomaly.metering.wire import encode, message_size


def test_metered_size_is_the_encoded_size():
    rng = np.random.default_rng(0)
    arrays = {
        "x": rng.random((32, 16, 26), dtype=np.float32),
        "feedback": rng.random((32, 16), dtype=np.float32),
        "count": np.array(7, dtype=np.int64),
    }
    payload, framing = message_size(arrays)
    assert payload == 32 * 16 * 26 * 4 + 32 * 16 * 4 + 8
    assert len(encode(arrays)) == payload + framing


def test_meter_counts_per_link_and_direction():
    meter, other = Meter(), Meter()
    one = {"a": np.zeros(10, dtype=np.float32)}
    meter.send("monitor_slice", "up", one)
    meter.send("monitor_slice", "up", one)
    other.send("monitor_slice", "down", one)
    meter.merge(other)
    up = meter.traffic("monitor_slice", "up")
    assert (up.payload_bytes, up.messages) == (80, 2)
    assert meter.traffic("monitor_slice", "down").messages == 1
    assert meter.traffic("slice_controller", "up").messages == 0
