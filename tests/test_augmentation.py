"""Level stretching of the training windows a split model's monitors draw."""

from __future__ import annotations

import numpy as np
import pytest

from fedanomaly.config import resolve_topology
from fedanomaly.config.schema import ModelConfig
from fedanomaly.data.augmentation import stretch_levels
from fedanomaly.errors import InputError
from fedanomaly.models.sides import GanShape
from fedanomaly.seeding import stable_hash
from fedanomaly.tiers.monitor import Monitor


def test_stretch_moves_each_window_mean_and_keeps_its_fluctuations():
    windows = np.array(
        [[[0.0, 1.0], [2.0, 3.0]], [[4.0, 4.0], [6.0, 8.0]]], dtype=np.float32
    )  # means per metric: (1, 2) and (5, 6)
    centre = np.array([1.0, 1.0])
    stretched = stretch_levels(windows, centre, np.array([1.0, 1.5]))
    assert stretched.dtype == np.float32
    np.testing.assert_array_equal(stretched[0], windows[0])  # a factor of 1 leaves it alone
    # level (5, 6) -> centre + 1.5 * ((5, 6) - centre) = (7, 8.5): every value moves by (2, 2.5)
    np.testing.assert_allclose(stretched[1], [[6.0, 6.5], [8.0, 10.5]])


def test_monitor_batches_are_stretched_by_factors_within_the_configured_range():
    rng = np.random.default_rng(1)
    windows = rng.random((200, 8, 3)).astype(np.float32)
    plain_config = ModelConfig(level_stretch=0.0)
    config = ModelConfig(level_stretch=0.6)
    shape = GanShape.from_config(config, 3)
    plain = Monitor("vm", windows, shape, plain_config, 0, None).sample()
    stretched = Monitor("vm", windows, shape, config, 0, None).sample()
    # without stretching the batches are those drawn before the option existed
    old_draws = np.random.default_rng([0, stable_hash("vm")])
    plain_monitor = Monitor("vm", windows, shape, plain_config, 0, None)
    for _ in range(2):
        drawn = windows[np.sort(old_draws.choice(200, config.batch_size, replace=False))]
        np.testing.assert_array_equal(plain_monitor.sample(), drawn)
    # the same draw, its levels moved away from the training mean, its fluctuations kept
    centre = windows.mean(axis=(0, 1))
    level, moved = plain.mean(axis=1), stretched.mean(axis=1)
    np.testing.assert_allclose(stretched - moved[:, None], plain - level[:, None], atol=1e-5)
    factors = (moved - centre) / (level - centre)
    np.testing.assert_allclose(factors, factors[:, :1].repeat(3, axis=1), rtol=1e-3)
    assert factors.min() >= 1.0 - 1e-4 and factors.max() <= 1.6 + 1e-4
    assert factors.max() - factors.min() > 0.3  # drawn, not one fixed factor


def test_level_stretch_is_for_the_split_models_only():
    settings = {"model.level_stretch": 0.3}
    assert resolve_topology(slices=1, monitors=1, settings=settings).model.level_stretch == 0.3
    with pytest.raises(InputError, match=r"model.level_stretch: Input should be greater than"):
        resolve_topology(slices=1, monitors=1, settings={"model.level_stretch": -0.1})
    with pytest.raises(InputError, match="level_stretch applies to biwgan-gp"):
        resolve_topology(slices=1, monitors=1, settings={**settings, "model.name": "attae"})
    off = {"model.level_stretch": 0.0, "model.name": "attae"}  # off is off for any model
    assert resolve_topology(slices=1, monitors=1, settings=off).model.level_stretch == 0.0
