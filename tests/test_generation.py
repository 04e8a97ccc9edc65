"""CMSF-GAN: typed real windows, the split update, generation quality and ``generate``."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fedanomaly.cli import app
from fedanomaly.config import parse_source
from fedanomaly.config.overrides import resolve_topology
from fedanomaly.config.schema import ModelConfig
from fedanomaly.data.injection import ANOMALY_KINDS
from fedanomaly.data.metrics import Family
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.data.typed_windows import typed_windows
from fedanomaly.evaluation.generation import generation_quality
from fedanomaly.generation import generate_anomalies
from fedanomaly.models.cmsf import CmsfCriticSide, CmsfGeneratorSide, generator_loss, one_hot
from fedanomaly.seeding import stream_seed

TYPES = ["cpu_endless_loop", "memory_leak", "disk_io_fault", "network_congestion"]


@pytest.fixture(scope="module")
def monitor():
    topology = resolve_topology(
        slices=1, monitors=2, settings={"data.source.length": 1440, "seed": 3}
    )
    return topology, prepare_monitors(topology)[0]


def test_typed_windows_change_only_the_types_metrics(monitor):
    topology, data = monitor
    injection = topology.data.injection
    plain, plain_codes = typed_windows(
        data, injection.model_copy(update={"intensity": 0.0}), 16, 5, np.random.default_rng(1)
    )
    typed, codes = typed_windows(data, injection, 16, 5, np.random.default_rng(1))
    assert typed.shape == (4 * 5, 16, len(data.metrics)) and typed.dtype == np.float32
    assert codes.tolist() == plain_codes.tolist() == [c for c in range(4) for _ in range(5)]
    for window, base, code in zip(typed, plain, codes, strict=True):
        kind = ANOMALY_KINDS[TYPES[code]]
        changed = np.flatnonzero(np.abs(window - base).max(axis=0) > 1e-6)
        assert changed.size > 0, TYPES[code]
        families = {data.metrics[j].family for j in changed}
        assert len(families) == 1 and families <= set(kind.families) | {Family.OTHER}
        for j in changed:  # each moves the way the fault moves its role, where not clipped
            sign = kind.signs[data.metrics[j].role]
            moved = (window[:, j] - base[:, j]) * sign
            assert moved.min() >= -1e-6, (TYPES[code], data.metrics[j].name)


def test_quality_of_real_windows_and_of_noise(monitor):
    topology, data = monitor
    injection = topology.data.injection
    real, real_codes = typed_windows(data, injection, 16, 60, np.random.default_rng(1))
    again, again_codes = typed_windows(data, injection, 16, 60, np.random.default_rng(2))
    same = generation_quality(real, real_codes, again, again_codes, TYPES)
    assert same.type_accuracy >= 0.9 and same.real_type_accuracy >= 0.9
    assert abs(same.discriminative_score - 0.5) < 0.15  # real against real: a coin toss
    noise = np.random.default_rng(0).uniform(0, 1, again.shape).astype(np.float32)
    bad = generation_quality(real, real_codes, noise, again_codes, TYPES)
    assert bad.discriminative_score > 0.95
    assert set(bad.type_accuracy_by_type) == set(TYPES)


def test_split_update_equals_the_end_to_end_gradient():
    torch.manual_seed(0)
    windows = torch.rand(40, 16, 5).numpy()
    codes = np.arange(40) % 3
    config = ModelConfig(
        optimizer="adamw", latent_size=4, critic_iterations=1, feature_matching_weight=2.0,
        window_length=16, hidden={"generator": [8, 8], "discriminator": [8, 8]},
    )  # fmt: skip
    generator = CmsfGeneratorSide(3, 5, config, seed=1)
    critic = CmsfCriticSide(windows, codes, 3, config, seed=2)
    payload = generator.propose([8])[0]
    _, g_loss, feedback = critic.train(payload)
    # independently: the same G loss through G itself, on the critic after its step, with the
    # real batch the critic drew for it
    critic.rng = np.random.default_rng(2)
    critic.real_batch(8)  # the draw of the critic step
    x, real_codes = critic.real_batch(8)
    generator.update([feedback])
    reference = CmsfGeneratorSide(3, 5, config, seed=1)
    noise = torch.Generator().manual_seed(stream_seed(1, "noise"))  # its own noise stream
    torch.randperm(8, generator=noise)  # the generator side draws the types first
    z = torch.randn(8, 4, generator=noise)
    fake_codes = torch.from_numpy(payload["codes"])
    fake = reference.generator(z, one_hot(fake_codes, 3))
    assert np.allclose(fake.detach().numpy(), payload["x_fake"], atol=1e-6)
    loss = generator_loss(critic.critic, x, real_codes, fake, fake_codes, 3, 2.0)
    assert float(loss.detach()) == pytest.approx(g_loss, rel=1e-5)
    loss.backward()
    reference.optimizer.step()
    for ours, theirs in zip(
        generator.generator.parameters(), reference.generator.parameters(), strict=True
    ):
        assert torch.allclose(ours, theirs, atol=1e-6)


def test_generate_from_the_command_line(tmp_path):
    out = tmp_path / "leaks.npz"
    result = CliRunner().invoke(app, [
        "generate", "--slices", "1", "--monitors", "2", "--data", "synthetic-vnf?length=1440",
        "--type", "sudden_spike", "--count", "7", "--iterations", "3", "--out", str(out), "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["type"] == "sudden_spike" and report["count"] == 7
    # a type the topology does not inject is learnt beside the types it does
    assert set(report["type_accuracy_by_type"]) == {*TYPES, "sudden_spike"}
    # the command trains and measures as the library does on the same settings
    topology = resolve_topology(
        slices=1, monitors=2, source=parse_source("synthetic-vnf?length=1440"),
        settings={"model.iterations": 3, "data.injection.types": [*TYPES, "sudden_spike"]},
    )  # fmt: skip
    expected = generate_anomalies(topology, "sudden_spike", 7)
    quality = expected.quality
    assert report["type_accuracy_by_type"] == quality.type_accuracy_by_type
    for key in ("type_accuracy", "real_type_accuracy", "discriminative_score"):
        assert report[key] == getattr(quality, key)
    saved = np.load(out)
    np.testing.assert_array_equal(saved["windows"], expected.windows)
    assert saved["windows"].shape == (7, ModelConfig().window_length, 26)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["leaks.npz"]
    assert str(saved["type"]) == "sudden_spike" and len(saved["metrics"]) == 26


def test_generate_takes_fewer_iterations_than_the_files_fedavg_period(tmp_path):
    # generate trains in one place: a file's L = 10 (and L1) must not refuse --iterations 2
    topology = tmp_path / "attae.yaml"
    topology.write_text(
        "model: {name: attae, iterations: 50, local_iterations: 10, slice_iterations: 5}\n"
        "data: {source: {type: synthetic-vnf, length: 1440}}\n"
        "slices: [{name: s, monitors: [{name: m1}, {name: m2}]}]\n"
    )
    out = tmp_path / "leaks.npz"
    result = CliRunner().invoke(app, [
        "generate", str(topology), "--iterations", "2", "--count", "3", "--out", str(out), "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["iterations"] == 2
    assert np.load(out)["windows"].shape[0] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "solar_flare"], "--type: unknown anomaly type 'solar_flare'; one of cpu_"),
        (["--count", "0"], "Invalid value for '--count'"),
        (["--count", "100000000"], "100000000 is not in the range 1<=x<=1000000"),
        (["--out", "x.txt"], "--out x.txt: generated windows are written as .npz"),
        (["--out", ".npz"], "--out .npz: give the file a name before .npz"),
        (
            ["--slices", "1", "--monitors", "2", "--batch-size", "100000"],
            "--batch-size: model.batch_size (M=100000) is larger than a monitor's 256 typed "
            "windows (64 per injected type)",
        ),
        (
            ["--slices", "1", "--monitors", "1", "--data", "synthetic-vnf?length=10"],
            "the train part has 6 steps, fewer than one window (model.window_length 8)",
        ),
    ],
)
def test_generate_bad_input(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["generate", "--iterations", "1", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "CMSF-GAN" not in result.output  # refused before the progress bar starts
    assert list(tmp_path.iterdir()) == []


def test_the_same_seed_generates_the_same_windows():
    topology = resolve_topology(
        slices=1, monitors=2,
        settings={"data.source.length": 1440, "model.iterations": 3, "seed": 4},
    )  # fmt: skip
    first = generate_anomalies(topology, "disk_io_fault", 5)
    second = generate_anomalies(topology, "disk_io_fault", 5)
    np.testing.assert_array_equal(first.windows, second.windows)
    assert first.quality == second.quality


def test_a_batch_from_the_topology_file_too_large_for_the_typed_windows_names_the_file(tmp_path):
    topology = tmp_path / "big.yaml"
    topology.write_text(
        "model: {batch_size: 300}\ndata: {source: {type: synthetic-vnf, length: 1440}}\n"
        "slices: [{name: s, monitors: [{name: m}]}]\n"
    )
    out = tmp_path / "g.npz"
    result = CliRunner().invoke(app, ["generate", str(topology), "--out", str(out)])
    assert result.exit_code == 2
    assert (
        f"{topology}: model.batch_size (M=300) is larger than a monitor's 256 typed windows"
        in " ".join(result.output.split())
    )
    assert not out.exists()


def test_generate_leaves_out_the_monitors_without_labelled_anomalies(tmp_path):
    """A monitor with labelled_anomalies: false holds no typed windows: CMSF-GAN trains as if it
    were not there (the same windows as a topology of the labelled monitor alone), and a
    topology where no monitor is labelled is refused before training."""

    def topology(monitors: str):
        path = tmp_path / "t.yaml"
        path.write_text(
            "seed: 5\nmodel: {iterations: 3}\ndata: {source: {type: synthetic-vnf, length: 1440}}\n"
            f"slices: [{{name: s, monitors: [{monitors}]}}]\n"
        )
        return resolve_topology(path)

    both = generate_anomalies(topology("{name: a}, {name: b, labelled_anomalies: false}"),
                              "memory_leak", 5)  # fmt: skip
    alone = generate_anomalies(topology("{name: a}"), "memory_leak", 5)
    np.testing.assert_array_equal(both.windows, alone.windows)
    assert both.quality == alone.quality
    topology("{name: a, labelled_anomalies: false}")
    out = tmp_path / "g.npz"
    result = CliRunner().invoke(app, ["generate", str(tmp_path / "t.yaml"), "--out", str(out)])
    assert result.exit_code == 2
    assert "no monitor has labelled anomalies for CMSF-GAN to train on" in result.output
    assert "CMSF-GAN " not in result.output.replace("for CMSF-GAN to", "")  # no progress bar
    assert not out.exists()
