"""Control detectors: they find what they should and score every step of every part."""

from __future__ import annotations

import numpy as np

from fedanomaly.config import resolve_topology
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.detection.controls import (
    ForestDetector,
    PcaDetector,
    ZScoreDetector,
    control_scores,
)


def test_zscore_is_the_root_mean_square_of_a_windows_value_zscores():
    # Metric 0 takes 1 and 3 (mean 2, deviation 1); metric 1 is constant 5 (deviation 0 -> 1).
    train = np.array([[[1.0, 5.0], [3.0, 5.0]], [[3.0, 5.0], [1.0, 5.0]]])
    detector = ZScoreDetector()
    detector.fit(train)
    windows = np.array([[[2.0, 5.0], [2.0, 5.0]], [[4.0, 5.0], [2.0, 7.0]]])
    # Window 1: z-scores (2, 0) and (0, 2): squared 4 + 0 + 0 + 4 over 4 values = 2, root 2**0.5.
    root2 = 2.0**0.5
    np.testing.assert_allclose(detector.position_scores(windows), [[0.0, 0.0], [root2, root2]])


def test_pca_error_is_zero_on_the_training_subspace_and_large_off_it():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(2, 12))
    train = (rng.normal(size=(300, 2)) @ basis).reshape(300, 4, 3)
    detector = PcaDetector(seed=0)
    detector.fit(train)
    inside = (rng.normal(size=(5, 2)) @ basis).reshape(5, 4, 3)
    outside = inside + rng.normal(size=inside.shape)
    assert np.abs(detector.position_scores(inside)).max() < 1e-10
    assert detector.position_scores(outside).min() > 1e-3


def test_isolation_forest_scores_an_outlier_above_the_training_cloud():
    rng = np.random.default_rng(0)
    detector = ForestDetector(seed=0)
    detector.fit(rng.normal(size=(500, 4, 2)))
    scores = detector.position_scores(np.stack([np.zeros((4, 2)), np.full((4, 2), 8.0)]))
    assert scores.shape == (2, 4)
    assert (scores[1] > scores[0]).all()


def test_every_control_scores_every_step_and_repeats_with_its_seed():
    topology = resolve_topology(
        slices=1, monitors=1, settings={"data.source.length": 1440, "model.window_length": 8}
    )
    data = prepare_monitors(topology)[0]
    vm = data.vms[0]
    for name in ("random", "zscore", "pca", "iforest"):
        scores = control_scores(name, data, 8, 4, seed=5)
        assert len(scores.train) == len(vm.train)
        assert len(scores.validation) == len(vm.validation)
        assert len(scores.test) == len(vm.test)
        np.testing.assert_array_equal(scores.test_types, vm.test.types)
        again = control_scores(name, data, 8, 4, seed=5)
        np.testing.assert_array_equal(scores.test, again.test)
    assert not np.array_equal(
        control_scores("random", data, 8, 4, 5).test, control_scores("random", data, 8, 4, 6).test
    )


def test_seeds_beyond_32_bits_are_accepted():
    topology = resolve_topology(slices=1, monitors=1, settings={"data.source.length": 1440})
    data = prepare_monitors(topology)[0]
    for name in ("pca", "iforest"):
        scores = control_scores(name, data, 8, 4, seed=2**32 + 5)
        assert np.isfinite(scores.test).all()
