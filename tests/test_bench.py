"""``fedanomaly bench``: real short simulations whose metered payload equals the closed form."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from fedanomaly.bench.closed_form import fedavg_payload, iteration_payload
from fedanomaly.cli import app
from fedanomaly.config.schema import ModelConfig
from fedanomaly.metering.precision import encode
from fedanomaly.metering.wire import message_size
from fedanomaly.models.biwgan import VARIANTS
from fedanomaly.models.sides import CriticSide, GanShape, GeneratorSide

MODES = ["centralized", "standalone", "distributed", "federated"]
SMALL = {
    "name": "bench",
    "model": {
        "critic_iterations": 1,
        "latent_size": 4,
        "window_length": 8,
        "hidden": {"generator": [8, 8], "encoder": [8, 8], "discriminator": [16, 8]},
    },
    "data": {"source": {"type": "synthetic-vnf", "length": 1440}},
    "placement": {"slices_per_node": 2},  # one Ray actor per run: payloads do not depend on it
    "slices": [
        {"name": "a", "monitors": [{"name": "a1"}, {"name": "a2"}]},
        {"name": "b", "monitors": [{"name": "b1"}]},
    ],
}
T = SMALL["model"]["window_length"]


def test_closed_forms_by_hand():
    # M 8, T 16, d 26, l 16: up 4 (2 * 8 * 16 * 26 + 8 * 16), down 4 (8 * 16 * 26 + 2 * 8 * 16)
    assert iteration_payload(8, 16, 26, 16) == (4 * (6656 + 128), 4 * (3328 + 256))
    # without an encoder: up dL/dX_bar and the next batch, down X_bar alone (no f, no z)
    assert iteration_payload(8, 16, 26, 16, bidirectional=False) == (4 * 6656, 4 * 3328)
    # 7 iterations, L 3: 3 rounds up (model + count), 4 down (the last broadcast), 2 slices
    assert fedavg_payload(100, 2, 7, 3) == (3 * 2 * (400 + 8), 4 * 2 * 400)


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_the_closed_form_is_one_real_exchange_of_every_variant(name, precision):
    """One iteration's payloads as a slice manager and a critic make them: without an encoder
    (wgan-gp, wgan, gan) neither f nor dL/df travels."""
    config = ModelConfig(
        name=name, critic_iterations=1, latent_size=4, window_length=8, batch_size=5,
        hidden={"generator": (8, 8), "encoder": (8, 8), "discriminator": (8, 8)},
    )  # fmt: skip
    shape = GanShape.from_config(config, 3)
    batch = np.random.default_rng(0).random((5, 8, 3)).astype(np.float32)
    generated = GeneratorSide(shape, config, 0).propose([batch])[0]
    feedback = CriticSide(shape, config, 0).train(batch, generated)[2]
    up = message_size(encode({**feedback, "x": batch}, precision))[0]
    down = message_size(encode(generated, precision))[0]
    assert (up, down) == iteration_payload(5, 8, 3, 4, precision, VARIANTS[name].bidirectional)


def sweep(tmp_path, ray_address, *args: str) -> list[dict[str, str]]:
    topology = tmp_path / "bench.yaml"
    topology.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "results" / "sweep-v1.5"  # a dot of its own: the suffixes are added
    result = CliRunner().invoke(
        app, ["bench", *args, "--topology", str(topology), "--out", str(out),
              "--ray-address", ray_address],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["sweep-v1.5.csv", "sweep-v1.5.png"]
    assert (out.parent / "sweep-v1.5.png").stat().st_size > 10_000
    with (out.parent / "sweep-v1.5.csv").open() as stream:
        return list(csv.DictReader(stream))


def test_batch_sweep_matches_the_closed_form(tmp_path, ray_address):
    rows = sweep(tmp_path, ray_address, "batch", "--sizes", "4,8", "--iterations", "2")
    assert [int(r["batch_size"]) for r in rows] == [4, 8]
    for row in rows:
        assert row["up_measured"] == row["up_closed_form"]
        assert row["down_measured"] == row["down_closed_form"]
        batch = int(row["batch_size"])  # up: dL/dX_bar and the next X (M T d), dL/df (M l)
        assert int(row["up_per_iteration"]) == 4 * (2 * batch * T * 26 + batch * 4)


def test_a_diverging_sweep_point_is_one_line_and_writes_nothing(tmp_path, ray_address):
    topology = tmp_path / "bench.yaml"
    topology.write_text(
        yaml.safe_dump({**SMALL, "model": {**SMALL["model"], "learning_rate": 1e8}})
    )
    out = tmp_path / "results" / "sweep"
    result = CliRunner().invoke(
        app, ["bench", "batch", "--sizes", "4", "--iterations", "3", "--topology", str(topology),
              "--out", str(out), "--ray-address", ray_address],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert re.fullmatch(
        r"error: sweep point 1 of 1 \(federated, M = 4, I = 3\) failed: monitor \S+: critic loss "
        r"\S+, EG loss \S+ at iteration \d+\n",
        result.output,
    ), result.output
    assert not out.with_suffix(".csv").exists() and not out.with_suffix(".png").exists()


def test_aggregation_sweep_matches_the_closed_form(tmp_path, ray_address):
    rows = sweep(tmp_path, ray_address, "aggregation", "--local", "2,4", "--iterations", "4")
    assert [int(r["local_iterations"]) for r in rows] == [2, 4]
    for row in rows:
        assert row["up_measured"] == row["up_closed_form"]
        assert row["down_measured"] == row["down_closed_form"]
    assert int(rows[0]["up_measured"]) == 2 * int(rows[1]["up_measured"])  # twice the rounds


def test_memory_sweep_over_the_four_modes(tmp_path, ray_address):
    rows = sweep(tmp_path, ray_address, "memory", "--lengths", "1440,2880", "--iterations", "2")
    assert [r["mode"] for r in rows] == [m for m in MODES for _ in range(2)]
    for row in rows:
        assert row["up_measured"] == row["up_closed_form"]
        assert row["down_measured"] == row["down_closed_form"]
    by_mode = {m: [r for r in rows if r["mode"] == m] for m in MODES}
    assert all(int(r["up_measured"]) == 0 for r in by_mode["standalone"])
    for mode, (short, long) in by_mode.items():
        assert int(long["training_windows"]) > int(short["training_windows"])
        resident = "controller_memory_mb" if mode == "centralized" else "monitor_memory_mb"
        assert float(long[resident]) > float(short[resident]), mode
    # centralized: the training data go up once, so its upload doubles with the data
    central = by_mode["centralized"]
    assert int(central[1]["up_measured"]) == 2 * int(central[0]["up_measured"])


def test_time_sweep_reports_cpu_time_per_mode(tmp_path, ray_address):
    rows = sweep(
        tmp_path, ray_address, "time", "--iterations", "2,4", "--modes", "standalone,federated"
    )
    assert [(r["mode"], int(r["iterations"])) for r in rows] == [
        ("standalone", 2), ("standalone", 4), ("federated", 2), ("federated", 4),
    ]  # fmt: skip
    for row in rows:
        assert row["up_measured"] == row["up_closed_form"]
        assert row["down_measured"] == row["down_closed_form"]
        tiers = sum(
            float(row[f"{t}_cpu_seconds"]) for t in ("monitor", "slice_manager", "controller")
        )
        assert float(row["cpu_seconds"]) == pytest.approx(tiers, abs=1e-3)
        assert float(row["monitor_cpu_seconds"]) > 0


def test_scale_sweep_over_sizes(tmp_path, ray_address):
    rows = sweep(tmp_path, ray_address, "scale", "--sizes", "1x2,2x4", "--iterations", "2")
    assert [(int(r["slices"]), int(r["monitors"])) for r in rows] == [(1, 2), (2, 4)]
    for row in rows:
        assert row["up_measured"] == row["up_closed_form"]
        assert row["down_measured"] == row["down_closed_form"]
        assert float(row["iterations_per_second"]) > 0


def test_precision_sweep_saves_bytes(tmp_path, ray_address):
    rows = sweep(
        tmp_path, ray_address, "precision", "--precisions", "float32,int8", "--iterations", "2"
    )
    assert [r["precision"] for r in rows] == ["float32", "int8"]
    for row in rows:
        assert row["up_measured"] == row["up_closed_form"]
        assert row["down_measured"] == row["down_closed_form"]
        assert 0 <= float(row["f1"]) <= 1
    assert int(rows[1]["up_measured"]) < int(rows[0]["up_measured"]) / 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batch", "--sizes", "ten"], "--sizes: expected comma-separated whole numbers, got 'ten'"),
        (["scale", "--sizes", "3by9"], "--sizes: expected SLICESxMONITORS such as 3x9, got '3by9'"),
        (["time", "--modes", "orbital"], "--modes: mode: Input should be 'centralized'"),
        (["memory", "--lengths", "0"], "--lengths: expected positive whole numbers, got '0'"),
        (["batch", "--sizes", "10,,20"], "--sizes: expected comma-separated whole numbers"),
        (["time", "--modes", "federated,"], "--modes: expected a comma-separated list"),
        (["scale", "--sizes", "3x1"], "--sizes 3x1: every slice needs a monitor"),
        (["batch", "--out", "."], "--out .: is a folder; give a name for the results"),
    ],
)
def test_a_bad_list_is_a_clear_error(args, message):
    result = CliRunner().invoke(app, ["bench", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_every_point_is_checked_before_the_first_runs(tmp_path, ray_address):
    topology = tmp_path / "bench.yaml"
    topology.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "results" / "sweep"
    result = CliRunner().invoke(
        app, ["bench", "batch", "--sizes", "4,99999", "--iterations", "2", "--topology",
              str(topology), "--out", str(out), "--ray-address", ray_address],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "point 2 of 2: --sizes: model.batch_size (M=99999) is larger than monitor a1's" in (
        result.output
    )
    assert "done" not in result.output  # the first point did not run
    assert not out.with_suffix(".csv").exists()


def test_memory_needs_the_built_in_source(smd_dir, tmp_path):
    out = tmp_path / "memory"
    result = CliRunner().invoke(app, ["bench", "memory", "--data", f"smd:{smd_dir}", "--out", out])
    assert result.exit_code == 2
    assert (
        "--lengths: sets the length of the built-in data source (synthetic-vnf); the data "
        "source here is smd" in result.output
    )
    assert not tmp_path.joinpath("memory.csv").exists()
