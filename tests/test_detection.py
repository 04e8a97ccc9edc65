"""Step scores and the score scale of eq. 28, on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import ledoit_wolf

from fedanomaly.detection.scoring import ResidualWhitening, ScoreScale, steps_from_windows


def test_step_score_is_the_mean_over_covering_windows_at_the_steps_position():
    # 3 windows of length 2 over 4 steps; window s covers steps s and s+1
    scores = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    # step 0: w0@0 = 1; step 1: w0@1, w1@0 = (2+3)/2; step 2: (4+5)/2; step 3: w2@1 = 6
    np.testing.assert_allclose(steps_from_windows(scores), [1.0, 2.5, 4.5, 6.0])


def test_step_scores_of_constant_windows_are_constant():
    np.testing.assert_allclose(steps_from_windows(np.full((10, 4), 7.0)), np.full(13, 7.0))


def test_score_scale_standardises_both_terms_on_training_windows():
    rng = np.random.default_rng(0)
    errors = rng.gamma(2.0, [0.1, 1.0, 10.0], size=(500, 4, 3))
    critic = rng.normal(5.0, 2.0, 500)
    scale = ScoreScale.fit(
        errors, critic, gamma=0.5, bidirectional=True, pooling="mean", shrinkage=0.25
    )
    mixed = scale.combine(errors, critic)
    # r per window: root mean square of the per-metric z-scores over the window's values
    recon = np.sqrt((((errors - errors.mean((0, 1))) / errors.std((0, 1))) ** 2).mean(axis=(1, 2)))
    standard_critic = (critic - critic.mean()) / critic.std()
    expected = 0.5 * (recon - recon.mean()) / recon.std() + 0.5 * standard_critic
    np.testing.assert_allclose(mixed, expected, rtol=1e-6, atol=1e-9)
    assert mixed.mean() == pytest.approx(0.0, abs=0.1)


def test_max_pooling_takes_the_metric_furthest_above_its_training_level():
    rng = np.random.default_rng(1)
    errors = rng.gamma(2.0, [0.1, 1.0, 10.0], size=(400, 4, 3))
    critic = rng.normal(0.0, 1.0, 400)
    scale = ScoreScale.fit(
        errors, critic, gamma=1.0, bidirectional=True, pooling="max", shrinkage=0.25
    )
    # per metric: squared z-score of each value, averaged over the window's 4 positions ...
    z2 = (((errors - errors.mean((0, 1))) / errors.std((0, 1))) ** 2).mean(axis=1)
    # ... standardised per metric over the training windows; r is the largest of the 3
    recon = ((z2 - z2.mean(axis=0)) / z2.std(axis=0)).max(axis=1)
    expected = (recon - recon.mean()) / recon.std()
    np.testing.assert_allclose(scale.combine(errors, critic), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("pooling", ["mahalanobis", "mean"])
def test_without_an_encoder_only_the_critic_counts(pooling):
    errors = np.zeros((10, 2, 3))
    critic = np.arange(10.0)
    scale = ScoreScale.fit(
        errors, critic, gamma=0.9, bidirectional=False, pooling=pooling, shrinkage=0.25
    )
    np.testing.assert_allclose(scale.combine(errors, critic), (critic - 4.5) / critic.std())


@pytest.mark.parametrize("shrinkage", [0.0, 0.25, 1.0])
def test_mahalanobis_pooling_whitens_the_window_mean_residual(shrinkage):
    rng = np.random.default_rng(2)
    mixing = np.array([[1.0, 0.0, 0.0], [0.9, 0.3, 0.0], [0.0, 0.5, 2.0]])
    residuals = rng.normal(size=(600, 4, 3)) @ mixing.T + [0.1, -0.2, 0.3]
    critic = rng.normal(size=600)
    scale = ScoreScale.fit(
        residuals, critic, gamma=1.0, bidirectional=True, pooling="mahalanobis",
        shrinkage=shrinkage,
    )  # fmt: skip
    # independently: Ledoit-Wolf covariance of the window means, shrunk to its diagonal by hand,
    # inverted, and scipy's Mahalanobis distance of each window mean from their mean
    means = residuals.mean(axis=1)
    covariance = ledoit_wolf(means)[0]
    shrunk = (1 - shrinkage) * covariance + shrinkage * np.diag(np.diag(covariance))
    inverse = np.linalg.inv(shrunk)
    centre = means.mean(axis=0)
    recon = np.array([mahalanobis(m, centre, inverse) for m in means])
    np.testing.assert_allclose(scale.window_reconstruction(residuals), recon, rtol=1e-6)
    expected = (recon - recon.mean()) / recon.std()
    np.testing.assert_allclose(scale.combine(residuals, critic), expected, rtol=1e-6, atol=1e-9)


def test_mahalanobis_pooling_ranks_a_break_of_the_metrics_tie_above_a_joint_swing():
    # two metrics whose residuals move together in training (correlation 0.95)
    rng = np.random.default_rng(3)
    shared, own = rng.normal(size=(800, 8, 1)), rng.normal(size=(800, 8, 2))
    residuals = np.sqrt(0.95) * shared + np.sqrt(0.05) * own
    critic = np.zeros(800)
    sd = residuals.mean(axis=1).std(axis=0)
    joint = np.broadcast_to(4.0 * sd, (1, 8, 2))  # both up by 4 sd: normal load does this
    broken = np.broadcast_to([2.0 * sd[0], -2.0 * sd[1]], (1, 8, 2))  # one up, one down
    tests = np.concatenate([joint, broken])
    fits = {
        pooling: ScoreScale.fit(
            residuals, critic, gamma=1.0, bidirectional=True, pooling=pooling, shrinkage=0.25
        )
        for pooling in ("mahalanobis", "mean")
    }
    joint_score, broken_score = fits["mahalanobis"].window_reconstruction(tests)
    assert broken_score > 1.1 * joint_score
    # the per-metric norm of absolute errors ranks them the other way
    joint_mean, broken_mean = fits["mean"].window_reconstruction(tests)
    assert joint_mean > broken_mean


def test_residual_whitening_ignores_correlations_at_full_shrinkage():
    rng = np.random.default_rng(4)
    residuals = rng.normal(size=(300, 2, 2)) @ np.array([[1.0, 0.0], [0.8, 0.6]]).T
    whitening = ResidualWhitening.fit(residuals, shrinkage=1.0)
    variances = np.diag(ledoit_wolf(residuals.mean(axis=1))[0])
    np.testing.assert_allclose(whitening.precision, np.diag(1.0 / variances), rtol=1e-9)


def test_mahalanobis_pooling_gives_nan_where_a_training_residual_is_not_finite():
    residuals = np.random.default_rng(5).normal(size=(50, 4, 3))
    residuals[7, 2, 1] = np.nan
    scale = ScoreScale.fit(
        residuals, np.zeros(50), gamma=1.0, bidirectional=True, pooling="mahalanobis",
        shrinkage=0.25,
    )  # fmt: skip
    assert np.isnan(scale.window_reconstruction(np.zeros((2, 4, 3)))).all()
