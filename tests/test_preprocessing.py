"""Time-ordered splits, train-only scaling and windows."""

from __future__ import annotations

import numpy as np
import pytest

from fedanomaly.config.schema import SplitConfig
from fedanomaly.data.metrics import unnamed_metrics
from fedanomaly.data.preprocessing import (
    fit_scaler,
    make_windows,
    split_entity,
    window_starts,
)
from fedanomaly.data.series import EntityData, MetricSeries
from fedanomaly.errors import InputError


def entity(steps: int, metrics: int = 2, test: int | None = None) -> EntityData:
    specs = tuple(unnamed_metrics(metrics))
    values = np.arange(steps * metrics, dtype=float).reshape(steps, metrics)
    held_out = None
    if test:
        held_out = MetricSeries(-np.ones((test, metrics)), specs, np.zeros(test, dtype=np.int8))
    return EntityData(
        "e", MetricSeries(values, specs, timestamps=np.arange(steps) * 60.0), held_out
    )


def test_split_is_time_ordered_without_overlap_and_covers_the_series():
    parts = split_entity(entity(1000), SplitConfig(train=0.6, validation=0.2, test=0.2), "e")
    train, validation, test = (p.timestamps for p in (parts.train, parts.validation, parts.test))
    assert (len(train), len(validation), len(test)) == (600, 200, 200)
    assert train.max() < validation.min() and validation.max() < test.min()
    np.testing.assert_array_equal(np.concatenate([train, validation, test]), np.arange(1000) * 60.0)


def test_published_test_part_is_kept_and_train_cut_into_train_and_validation():
    parts = split_entity(
        entity(900, test=50), SplitConfig(train=0.6, validation=0.2, test=0.2), "e"
    )
    assert (len(parts.train), len(parts.validation), len(parts.test)) == (675, 225, 50)
    assert (parts.test.values == -1).all()


def test_a_part_that_would_be_empty_is_an_error():
    with pytest.raises(InputError, match=r"tiny: 2 steps leave the validation part empty"):
        split_entity(entity(2), SplitConfig(train=0.6, validation=0.2, test=0.2), "tiny")


def test_scaler_is_fitted_on_train_only():
    rng = np.random.default_rng(0)
    train = rng.uniform(2.0, 5.0, (500, 3))
    test = rng.uniform(0.0, 10.0, (200, 3))
    scaler = fit_scaler(train)
    scaled_train = scaler.transform(train)
    assert scaled_train.min(axis=0) == pytest.approx(0) and scaled_train.max(
        axis=0
    ) == pytest.approx(1)
    expected = (test - train.min(axis=0)) / (train.max(axis=0) - train.min(axis=0))
    np.testing.assert_allclose(scaler.transform(test), expected)
    assert scaler.transform(test).max() > 1.5  # test values are not squeezed into [0, 1]


def test_constant_train_column_is_shifted_not_stretched():
    scaler = fit_scaler(np.full((10, 1), 7.0))
    np.testing.assert_allclose(scaler.transform(np.array([[7.0], [9.0]])), [[0.0], [2.0]])


@pytest.mark.parametrize(("steps", "length", "stride"), [(100, 32, 4), (32, 32, 1), (101, 10, 7)])
def test_window_count_and_content(steps, length, stride):
    values = np.arange(steps * 2, dtype=float).reshape(steps, 2)
    windows = make_windows(values, length, stride, "w")
    assert windows.shape == ((steps - length) // stride + 1, length, 2)
    for k in (0, windows.shape[0] - 1):
        np.testing.assert_array_equal(windows[k], values[k * stride : k * stride + length])
    assert window_starts(steps, length, stride).size == windows.shape[0]


def test_window_longer_than_the_series_is_an_error():
    with pytest.raises(
        InputError, match=r"vm-1: window length 50 is longer than the series \(20 steps\)"
    ):
        make_windows(np.zeros((20, 2)), 50, 1, "vm-1")
