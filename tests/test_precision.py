"""Payload precision: encoded sizes against closed forms, decoding error against its bound,
and a real run whose bytes shrink as the closed form says."""

from __future__ import annotations

import numpy as np
import pytest

from fedanomaly.metering.meter import Meter
from fedanomaly.metering.precision import decode, encode
from fedanomaly.metering.wire import encode as wire_bytes
from fedanomaly.metering.wire import message_size
from fedanomaly.simulation import simulate
from tests.test_simulation import exchange_messages, final_arrays, parameters, tiny

RNG = np.random.default_rng(0)
ARRAYS = {
    "g": RNG.normal(size=(8, 16, 5)).astype(np.float32),
    "e": RNG.normal(scale=1e-3, size=(8, 3)).astype(np.float32),
    "num_examples": np.array(120, dtype=np.int64),
}


@pytest.mark.parametrize(("precision", "itemsize"), [("float32", 4), ("float16", 2), ("int8", 1)])
def test_encoded_payload_is_the_closed_form(precision, itemsize):
    wire = encode(ARRAYS, precision)
    floats = ARRAYS["g"].size + ARRAYS["e"].size
    scales = 4 * 2 if precision == "int8" else 0  # one float32 scale per float tensor
    payload, framing = message_size(wire)
    assert payload == itemsize * floats + scales + 8
    assert payload + framing == len(wire_bytes(wire))  # the metered size is the real size
    np.testing.assert_array_equal(decode(wire, precision)["num_examples"], 120)  # counts as is


@pytest.mark.parametrize("precision", ["float32", "float16", "int8"])
def test_arrays_that_are_not_float32_arrive_as_they_were_sent(precision):
    sent = {
        "codes": np.array([0, 3, 7], dtype=np.int8),
        "count": np.array(120, dtype=np.int64),
        "z": np.array([0.5, -2.0], dtype=np.float32),
    }
    arrived = decode(encode(sent, precision), precision)
    assert sorted(arrived) == ["codes", "count", "z"]
    for name in ("codes", "count"):
        assert arrived[name].dtype == sent[name].dtype
        np.testing.assert_array_equal(arrived[name], sent[name])
    assert arrived["z"].dtype == np.float32


def test_decoding_error_stays_within_the_encodings_bound():
    half = decode(encode(ARRAYS, "float16"), "float16")
    quarter = decode(encode(ARRAYS, "int8"), "int8")
    for name in ("g", "e"):
        original = ARRAYS[name]
        assert half[name].dtype == quarter[name].dtype == np.float32
        # float16: relative rounding error at most 2^-11 (normal numbers)
        np.testing.assert_allclose(half[name], original, rtol=2.0**-11, atol=6e-8)
        # int8: at most half a quantisation step, s = max|a| / 127, per tensor
        step = np.abs(original).max() / 127
        assert np.abs(quarter[name] - original).max() <= step / 2 * (1 + 1e-6)
        assert np.abs(quarter[name]).max() == pytest.approx(np.abs(original).max(), rel=1e-6)


@pytest.mark.parametrize("peak", [2.5e-43, 1e-45, 1e-39])
def test_int8_keeps_the_sign_of_values_too_small_for_a_float32_scale(peak):
    # peak / 127 is subnormal or 0 in float32: the quotients must not wrap round int8
    tiny = np.array([peak, -peak / 2, 0.0], dtype=np.float32)
    arrived = decode(encode({"g": tiny}, "int8"), "int8")["g"]
    assert np.all(np.sign(arrived) * np.sign(tiny) >= 0)
    assert np.abs(arrived - tiny).max() <= np.abs(tiny).max()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("precision", ["float16", "int8"])
def test_a_non_finite_tensor_arrives_non_finite(precision, bad):
    diverged = ARRAYS["g"].copy()
    diverged[0, 0, 0] = bad
    sent = {**ARRAYS, "g": diverged}
    wire = encode(sent, precision)
    assert message_size(wire) == message_size(encode(ARRAYS, precision))  # same size
    arrived = decode(wire, precision)
    assert not np.isfinite(arrived["g"][0, 0, 0])  # not turned into a number on the way
    if precision == "int8":  # one scale for the tensor: every value of it is lost
        assert np.isnan(arrived["g"]).all()
    np.testing.assert_array_equal(arrived["e"], decode(encode(ARRAYS, precision), precision)["e"])


def test_transmit_meters_the_encoding_and_returns_what_arrives():
    meter = Meter()
    received, sent = meter.transmit("monitor_slice", "up", ARRAYS, "int8")
    assert (sent.payload_bytes, sent.framing_bytes) == message_size(encode(ARRAYS, "int8"))
    assert meter.traffic("monitor_slice", "up").payload_bytes == sent.payload_bytes
    assert set(received) == set(ARRAYS)
    assert not np.array_equal(received["g"], ARRAYS["g"])  # the receiver sees the rounding


def test_a_half_precision_run_sends_half_the_float_payload(ray_address, tmp_path):
    """Per-iteration messages at float16: the float32 closed form halved; models at int8: one
    byte per value plus a float32 scale per tensor, on every link they cross."""
    topology = tiny(
        **{"payload.feedback": "float16", "payload.generated": "float16", "payload.models": "int8"}
    )
    summary = simulate(topology, tmp_path / "run", ray_address)
    m = topology.model
    monitors, slices = 3, 2
    iterations, rounds = m.iterations, m.iterations // m.local_iterations
    up, down, first = exchange_messages(topology)
    model_count, _ = parameters(topology)
    int8_model = model_count + 4 * len(final_arrays(tmp_path / "run"))

    link = summary["communication"]["monitor_slice"]
    assert link["up_payload_bytes"] == monitors * (first[0] + iterations * up[0]) // 2
    # down: the generated batches at float16, then G and E for detection at int8
    assert link["down_payload_bytes"] == monitors * (iterations * down[0] // 2 + int8_model)
    controller = summary["communication"]["slice_controller"]
    assert controller["up_payload_bytes"] == rounds * slices * (int8_model + 8)
    assert controller["down_payload_bytes"] == (rounds + 1) * slices * int8_model
    assert 0.0 <= summary["detection"]["overall"]["vus_pr"] <= 1.0
