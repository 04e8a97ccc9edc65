"""``fedanomaly bench``: real short simulations whose metered payload equals the closed form."""

from __future__ import annotations

import csv

import yaml
from typer.testing import CliRunner

from fedanomaly.bench.closed_form import fedavg_payload, iteration_payload
from fedanomaly.cli import app

SMALL = {
    "name": "bench",
    "model": {
        "critic_iterations": 1,
        "latent_size": 4,
        "hidden": {"generator": [8, 8], "encoder": [8, 8], "discriminator": [16, 8]},
    },
    "data": {"source": {"type": "synthetic-vnf", "length": 1440}},
    "slices": [
        {"name": "a", "monitors": [{"name": "a1"}, {"name": "a2"}]},
        {"name": "b", "monitors": [{"name": "b1"}]},
    ],
}


def test_closed_forms_by_hand():
    # M 8, T 16, d 26, l 16: up 4 (2 * 8 * 16 * 26 + 8 * 16), down 4 (8 * 16 * 26 + 2 * 8 * 16)
    assert iteration_payload(8, 16, 26, 16) == (4 * (6656 + 128), 4 * (3328 + 256))
    # 7 iterations, L 3: 3 rounds up (model + count), 4 down (the last broadcast), 2 slices
    assert fedavg_payload(100, 2, 7, 3) == (3 * 2 * (400 + 8), 4 * 2 * 400)


def sweep(tmp_path, ray_address, *args: str) -> list[dict[str, str]]:
    topology = tmp_path / "bench.yaml"
    topology.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "results" / "sweep"
    result = CliRunner().invoke(
        app, ["bench", *args, "--topology", str(topology), "--out", str(out),
              "--ray-address", ray_address],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.with_suffix(".png").stat().st_size > 10_000
    with out.with_suffix(".csv").open() as stream:
        return list(csv.DictReader(stream))


def test_batch_sweep_matches_the_closed_form(tmp_path, ray_address):
    rows = sweep(tmp_path, ray_address, "batch", "--sizes", "4,8", "--iterations", "2")
    assert [int(r["batch_size"]) for r in rows] == [4, 8]
    for row in rows:
        assert row["up_measured"] == row["up_closed_form"]
        assert row["down_measured"] == row["down_closed_form"]
        assert (
            int(row["up_per_iteration"]) == iteration_payload(int(row["batch_size"]), 16, 26, 4)[0]
        )


def test_aggregation_sweep_matches_the_closed_form(tmp_path, ray_address):
    rows = sweep(tmp_path, ray_address, "aggregation", "--local", "2,4", "--iterations", "4")
    assert [int(r["local_iterations"]) for r in rows] == [2, 4]
    for row in rows:
        assert row["up_measured"] == row["up_closed_form"]
        assert row["down_measured"] == row["down_closed_form"]
    assert int(rows[0]["up_measured"]) == 2 * int(rows[1]["up_measured"])  # twice the rounds


def test_a_bad_list_is_a_clear_error():
    result = CliRunner().invoke(app, ["bench", "batch", "--sizes", "ten"])
    assert result.exit_code == 2
    assert "--sizes: expected comma-separated whole numbers, got 'ten'" in result.output
