"""Local models (ATTAE): the autoencoder, the learner, and slice averaging by sample count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fedanomaly.config import resolve_topology
from fedanomaly.config.schema import ModelConfig
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.detection.detector import local_model_scores
from fedanomaly.detection.scoring import robust_deviation, robust_metric_scale
from fedanomaly.metering.meter import Traffic
from fedanomaly.models.attae import Attae
from fedanomaly.models.local import LocalLearner, build_local_model
from fedanomaly.models.sides import module_arrays
from fedanomaly.tiers.local_slice import (
    HostedLearners,
    LearningMonitor,
    LocalSliceManager,
    weighted_average,
)
from fedanomaly.tiers.monitor import DivergenceError

CONFIG = ModelConfig(
    name="attae", batch_size=8, window_length=12, latent_size=4, slice_iterations=3,
    local_iterations=6, iterations=12, scales=[3, 6, 40], hidden={"autoencoder": 8},
)  # fmt: skip


def test_each_branch_sees_only_its_last_steps():
    model = Attae(metrics=2, length=12, scales=(3, 6, 40), hidden=5, latent=4)
    assert model.encoder.scales == (3, 6, 12)  # capped at T
    x = torch.randn(2, 12, 2)
    changed = x.clone()
    changed[:, :6] += 5.0  # outside the last 6 steps: branches 3 and 6 cannot see it
    for scale, branch in zip(model.encoder.scales, model.encoder.branches, strict=True):
        same = torch.allclose(
            branch(x[:, -scale:])[0][:, -1], branch(changed[:, -scale:])[0][:, -1]
        )
        assert same == (scale <= 6)
    assert model(x).shape == (2, 12, 2)


def test_the_learner_lowers_the_reconstruction_error_of_its_windows():
    rng = np.random.default_rng(0)
    steps = np.arange(12)
    windows = np.stack(
        [np.stack([np.sin(steps / 2 + p), np.cos(steps / 3 + p)], axis=1) for p in rng.random(200)]
    ).astype(np.float32)
    learner = LocalLearner(windows, CONFIG.model_copy(update={"learning_rate": 1e-2}), 0, 1)
    losses = learner.train(150)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])


def test_weighted_average_is_the_sample_weighted_mean():
    models = [[np.full(3, 1.0, np.float32)], [np.full(3, 4.0, np.float32)]]
    average = weighted_average(models, [1, 2])
    np.testing.assert_allclose(average[0], np.full(3, 3.0))
    assert average[0].dtype == np.float32


def test_a_slice_round_averages_by_samples_and_sends_the_average_back_down():
    rng = np.random.default_rng(1)
    sizes = (40, 120)
    still = CONFIG.model_copy(update={"learning_rate": 1e-30})  # weights stay where they start
    monitors = [
        LearningMonitor(
            f"m{k}",
            LocalLearner(rng.random((n, 12, 2), dtype=np.float32), still, k, k),
            "monitor_slice",
        )
        for k, n in enumerate(sizes)
    ]
    initial = [m.learner.arrays() for m in monitors]
    expected = [
        (sizes[0] * a.astype(np.float64) + sizes[1] * b) / sum(sizes)
        for a, b in zip(*initial, strict=True)
    ]
    manager = LocalSliceManager("s", still, HostedLearners(monitors), "monitor_slice")
    manager.train(0, 3)
    for got, want in zip(manager.arrays(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert len(manager.records) == 3
    assert manager.records[-1].up.messages == 2 and manager.records[0].down.messages == 0
    model_bytes = sum(a.nbytes for a in manager.arrays())
    assert manager.records[-1].up.payload_bytes == 2 * (model_bytes + 8)  # + the sample count
    # the average goes back down before the next slice round
    manager.train(3, 3)
    assert manager.records[3].down.messages == 2
    assert manager.records[3].down.payload_bytes == 2 * model_bytes
    for monitor in monitors:
        for got, want in zip(monitor.learner.arrays(), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_the_global_model_waits_for_the_next_slice_round():
    monitors = [
        LearningMonitor("m", LocalLearner(np.zeros((20, 12, 2), np.float32), CONFIG, 0, 0), "l")
    ]
    manager = LocalSliceManager("s", CONFIG, HostedLearners(monitors), "l")
    manager.train(0, 3)
    zeros = [np.zeros_like(a) for a in manager.arrays()]
    manager.load_arrays(zeros)
    sent = manager.deliver_pending()
    assert sent.messages == 1 and isinstance(sent, Traffic)
    assert all(not a.any() for a in monitors[0].learner.arrays())
    assert manager.deliver_pending().messages == 0


def test_attae_is_a_local_model_in_the_schema():
    topology = resolve_topology(slices=1, monitors=1, settings={"model.name": "attae"})
    assert topology.model.is_local
    assert not resolve_topology(slices=1, monitors=1).model.is_local


def written_out_step_scores(series: np.ndarray, score) -> np.ndarray:
    """Each step's mean, over the stride-1 windows holding it, of ``score`` at its position."""
    length = CONFIG.window_length
    windows = np.stack([series[s : s + length] for s in range(len(series) - length + 1)])
    positions = score(torch.from_numpy(windows)).numpy()
    return np.array(
        [
            np.mean([positions[s, t - s] for s in range(len(windows)) if 0 <= t - s < length])
            for t in range(len(series))
        ]
    )


def test_attae_scores_steps_by_squared_standardised_or_robust_error():
    settings = {f"model.{k}": v for k, v in CONFIG.model_dump().items()}
    settings["data.source.length"] = 1440
    topology = resolve_topology(slices=1, monitors=1, settings=settings)
    monitor = prepare_monitors(topology)[0]
    model = build_local_model(topology.model, monitor.vms[0].train.scaled.shape[1], 0)
    test = monitor.vms[0].test.scaled
    with torch.no_grad():
        squared = written_out_step_scores(test, lambda x: ((x - model(x)) ** 2).mean(dim=2))
        windows = monitor.windows("train", CONFIG.window_length, CONFIG.window_stride)
        train = torch.from_numpy(np.array(windows))
        errors = (train - model(train)).abs()
        mean, std = errors.mean(dim=(0, 1)), errors.std(dim=(0, 1), unbiased=False)
        standardised = written_out_step_scores(
            test, lambda x: ((((x - model(x)).abs() - mean) / std) ** 2).mean(dim=2)
        )
        per_metric = errors.reshape(-1, errors.shape[2])
        median = torch.quantile(per_metric, 0.5, dim=0)
        spread = torch.quantile(per_metric, 0.75, dim=0) - torch.quantile(per_metric, 0.25, dim=0)
        spread = torch.where(spread > 0, spread / 1.349, std)
        robust = written_out_step_scores(
            test, lambda x: (((x - model(x)).abs() - median).abs() / spread).mean(dim=2)
        )
    mse = local_model_scores(monitor, model, topology.model)
    np.testing.assert_allclose(mse.test, squared, rtol=1e-4)
    config = topology.model.model_copy(update={"reconstruction_score": "standardized"})
    scores = local_model_scores(monitor, model, config)
    np.testing.assert_allclose(scores.test, standardised, rtol=1e-4)
    # on its training windows the standardised error averages one per metric
    assert np.mean(scores.train) == pytest.approx(1.0, rel=0.05)
    assert not np.allclose(scores.test / scores.test.mean(), mse.test / mse.test.mean())
    config = topology.model.model_copy(update={"reconstruction_score": "robust"})
    robust_scores = local_model_scores(monitor, model, config)
    np.testing.assert_allclose(robust_scores.test, robust, rtol=1e-4)
    assert not np.allclose(robust_scores.test, scores.test, rtol=0.1)


def test_robust_scale_is_the_normal_consistent_interquartile_range_with_fallbacks():
    rng = np.random.default_rng(0)
    errors = np.abs(rng.normal(size=(4000, 4, 3))).astype(np.float64)
    errors[..., 1] = 0.25  # always the same error: no spread at all
    errors[:, :, 2] = 0.0
    errors[:10, 0, 2] = 1.0  # equal errors but for a few: the standard deviation stands in
    median, spread = robust_metric_scale(errors)
    flat = errors[..., 0].ravel()
    q1, q2, q3 = np.quantile(flat, [0.25, 0.5, 0.75])
    assert median[0] == pytest.approx(q2) and spread[0] == pytest.approx((q3 - q1) / 1.349)
    # |N(0, 1)| has quartiles Phi^-1(0.625) = 0.3186 and Phi^-1(0.875) = 1.1503
    assert spread[0] == pytest.approx((1.1503 - 0.3186) / 1.349, rel=0.05)
    assert (median[1], spread[1]) == (0.25, 1.0)
    assert median[2] == 0.0 and spread[2] == pytest.approx(errors[..., 2].std())
    scores = robust_deviation(errors[:2], median, spread)
    expected = (np.abs(errors[:2] - median) / spread).mean(axis=2)
    np.testing.assert_allclose(scores, expected)


def test_a_monitor_personalises_the_received_model_on_its_own_windows_alone():
    rng = np.random.default_rng(3)
    windows = rng.random((60, 12, 2), dtype=np.float32)
    received = LocalLearner(windows, CONFIG, 7, 7).arrays()
    monitor = LearningMonitor("m", LocalLearner(windows, CONFIG, 0, 5), "monitor_slice")
    monitor.fit(0, 12)  # its training: the optimizer state and batch draws go on from here
    personalised = monitor.personalise(received, 12, 4)
    reference = LocalLearner(windows, CONFIG, 0, 5)
    reference.train(12)
    reference.load_arrays(received)
    reference.train(4)
    for mine, theirs in zip(module_arrays(personalised), reference.arrays(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert any(
        not np.array_equal(a, b) for a, b in zip(module_arrays(personalised), received, strict=True)
    )
    assert monitor.meter.counts == {} and monitor.stopwatch.wall_seconds > 0
    broken = [np.full_like(a, np.nan) for a in received]
    with pytest.raises(DivergenceError, match="monitor m: reconstruction loss nan at iteration 12"):
        monitor.personalise(broken, 12, 2)
