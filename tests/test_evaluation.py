"""The evaluation module: metrics against hand-worked cases and the TSB-AD reference, thresholds
against closed forms, control detectors, and a monitor's report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from fedanomaly.cli.report import unseen_load_line
from fedanomaly.config import resolve_topology
from fedanomaly.config.schema import EvaluationConfig
from fedanomaly.evaluation.pointwise import (
    binary_metrics,
    implied_prevalence,
    oracle_f1,
    ranking_metrics,
)
from fedanomaly.evaluation.ranges import (
    anomaly_ranges,
    buffer_weights,
    buffered_segments,
    estimate_period,
    event_f1,
    point_adjust,
    range_limits,
    volume_under_surface,
)
from fedanomaly.evaluation.report import MonitorReport, PartScores, evaluate_monitor
from fedanomaly.evaluation.thresholds import (
    adaptive_threshold,
    pot_threshold,
    sigma_threshold,
    validation_threshold,
)
from fedanomaly.runs.summary import beyond_train_range, detection_summary

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "tsb_ad_reference.json").read_text())["cases"]
ARRAYS = np.load(DATA / "tsb_ad_reference.npz")


@pytest.mark.parametrize("case", REFERENCE, ids=lambda c: f"case{c['case']}-window{c['window']}")
def test_metrics_match_the_tsb_ad_reference_implementation(case):
    k = case["case"]
    labels, scores, preds = ARRAYS[f"labels_{k}"], ARRAYS[f"scores_{k}"], ARRAYS[f"preds_{k}"]
    volume = volume_under_surface(labels, scores, case["window"])
    assert volume.pr == pytest.approx(case["vus_pr"], abs=1e-12)
    assert volume.roc == pytest.approx(case["vus_roc"], abs=1e-12)
    ranking = ranking_metrics(labels, scores)
    assert ranking["auc_pr"] == pytest.approx(case["auc_pr"], abs=1e-12)
    assert ranking["auc_roc"] == pytest.approx(case["auc_roc"], abs=1e-12)
    assert binary_metrics(labels, preds)["f1"] == pytest.approx(case["f1"], abs=1e-12)
    assert event_f1(labels, preds) == pytest.approx(case["event_f1"], abs=1e-12)
    adjusted = binary_metrics(labels, point_adjust(labels, preds))["f1"]
    assert adjusted == pytest.approx(case["point_adjusted_f1"], abs=1e-12)
    # the reference adds 1e-5 to the F1 denominator
    assert oracle_f1(labels, scores)[0] == pytest.approx(case["f1_oracle"], abs=1e-4)


@pytest.mark.parametrize("share", [0.013, 0.05, 0.3, 0.5, 0.8])
def test_implied_prevalence_recovers_the_share_of_anomalies_behind_the_figures(share):
    rng = np.random.default_rng(7)
    labels = (rng.random(20_000) < share).astype(np.int8)
    # a detector that misses 12 % of the anomalies and raises alarms on 3 % of normal steps
    preds = np.where(labels == 1, rng.random(labels.size) > 0.12, rng.random(labels.size) < 0.03)
    figures = binary_metrics(labels, preds.astype(np.int8))
    implied = implied_prevalence(figures["precision"], figures["recall"], figures["accuracy"])
    assert implied == pytest.approx(labels.mean(), rel=1e-9)


def test_implied_prevalence_is_undefined_without_errors_or_hits():
    assert np.isnan(implied_prevalence(1.0, 1.0, 1.0))
    assert np.isnan(implied_prevalence(0.0, 0.0, 0.9))
    # figures that contradict each other: 0.5 errors per sample, 0.2 per positive
    assert np.isnan(implied_prevalence(0.9, 0.9, 0.5))


def test_ranges_and_their_buffered_segments():
    labels = np.array([0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1])
    ranges = anomaly_ranges(labels)
    np.testing.assert_array_equal(ranges, [[1, 2], [6, 6], [11, 11]])
    limits = range_limits(ranges, (), 12)
    # half 2: [0, 4], [4, 8] touch and merge; [9, 11] stays apart (clipped at the end)
    np.testing.assert_array_equal(buffered_segments(ranges, 2, limits), [[0, 8], [9, 11]])
    np.testing.assert_array_equal(buffered_segments(ranges, 0, limits), ranges)


def test_the_series_of_several_vms_stay_apart():
    # two VMs of 6 steps: an event ends the first VM's test part, another starts the second's
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(anomaly_ranges(labels), [[4, 7]])
    ranges = anomaly_ranges(labels, (6, 6))
    np.testing.assert_array_equal(ranges, [[4, 5], [6, 7]])
    limits = range_limits(ranges, (6, 6), 12)
    np.testing.assert_array_equal(limits, [[0, 5], [6, 11]])
    # margins of 2 steps stop at the VMs' ends instead of merging the two events
    np.testing.assert_array_equal(buffered_segments(ranges, 2, limits), [[2, 5], [6, 9]])
    weights = buffer_weights(ranges, 4, limits, 12)
    expected = np.zeros(12)
    expected[[2, 3, 8, 9]] = np.sqrt(1 - np.array([2, 1, 1, 2]) / 4)
    np.testing.assert_allclose(weights, expected)
    # one alarm in the first VM's event finds only that event, and adjusts only it
    preds = np.array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    assert event_f1(labels, preds) == pytest.approx(1.0)
    assert event_f1(labels, preds, (6, 6)) == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    np.testing.assert_array_equal(point_adjust(labels, preds, (6, 6)), [0] * 4 + [1] * 2 + [0] * 6)
    with pytest.raises(ValueError, match="do not make 12 steps"):
        anomaly_ranges(labels, (6, 5))
    # a VM without steps holds no series
    np.testing.assert_array_equal(anomaly_ranges(labels, (0, 6, 0, 6, 0)), ranges)
    np.testing.assert_array_equal(range_limits(ranges, (6, 6, 0), 12), limits)


def test_volume_of_two_vms_is_that_of_series_kept_apart():
    rng = np.random.default_rng(4)
    first, second = np.zeros(300, dtype=np.int8), np.zeros(300, dtype=np.int8)
    first[280:], second[:15] = 1, 1  # an event on either side of the join
    labels = np.concatenate([first, second])
    scores = rng.normal(size=600) + 1.5 * labels
    joined = volume_under_surface(labels, scores, 20)
    apart = volume_under_surface(labels, scores, 20, lengths=(300, 300))
    # kept apart there are two ranges to find, each margin one-sided: a different volume
    assert apart.pr != pytest.approx(joined.pr)
    # a gap of normal steps wider than the margins, scored below everything, separates them in
    # one series: with a threshold at every score, the PR volume is the same
    gap = np.zeros(30, dtype=np.int8)
    padded_labels = np.concatenate([first, gap, second])
    padded_scores = np.concatenate([scores[:300], np.full(30, scores.min() - 1), scores[300:]])
    padded = volume_under_surface(padded_labels, padded_scores, 20, thresholds=630)
    exact = volume_under_surface(labels, scores, 20, thresholds=600, lengths=(300, 300))
    assert padded.pr == pytest.approx(exact.pr, abs=1e-12)


def test_a_perfect_ranking_has_full_volume_by_hand():
    # 4 thresholds at ranks 0..3: alarms 1..4, hits 1, 2, 2, 2 -> TPR .5, 1, 1, 1,
    # precision 1, 1, 2/3, 1/2, FPR 0, 0, .5, 1: both areas are 1
    volume = volume_under_surface(np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.8, 0.2]), 0, 4)
    assert volume.pr == pytest.approx(1.0) and volume.roc == pytest.approx(1.0)
    reversed_volume = volume_under_surface(
        np.array([0, 1, 1, 0]), np.array([0.9, 0.1, 0.2, 0.8]), 0, 4
    )
    assert reversed_volume.roc == pytest.approx(0.0)  # every anomalous step below every normal


def test_volume_without_labels_is_not_a_number():
    assert np.isnan(volume_under_surface(np.zeros(10), np.arange(10.0), 3).pr)


def test_event_f1_and_point_adjustment_by_hand():
    labels = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    preds = np.array([0, 0, 1, 1, 0, 0, 0, 0, 0, 1])
    # one of two ranges found; 2 of 3 predicted steps are anomalous
    recall, precision = 0.5, 2 / 3
    assert event_f1(labels, preds) == pytest.approx(2 * recall * precision / (recall + precision))
    np.testing.assert_array_equal(point_adjust(labels, preds), [0, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    assert event_f1(labels, np.zeros(10)) == 0.0


def test_oracle_f1_by_hand():
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    # alarms at >= 0.35: precision 2/3, recall 1 -> 0.8, better than 0.8 alone (2/3)
    f1, cut = oracle_f1(labels, scores)
    assert f1 == pytest.approx(0.8) and cut == pytest.approx(0.35) and cut < 0.35
    # the reported threshold gives that F1 the way every threshold does: alarms above it
    assert binary_metrics(labels, (scores > cut).astype(np.int8))["f1"] == pytest.approx(0.8)


def test_scores_that_are_not_finite_give_undefined_figures():
    labels = np.array([0, 0, 1, 1, 0, 0])
    scores = np.array([0.1, np.nan, 0.9, 0.8, 0.2, 0.3])
    assert all(np.isnan(v) for v in ranking_metrics(labels, scores).values())
    assert all(np.isnan(v) for v in ranking_metrics(labels[:0], scores[:0]).values())
    assert np.isnan(oracle_f1(labels, scores)[0])
    assert np.isnan(volume_under_surface(labels, scores, 2).pr)


def test_period_of_a_sine_and_the_default_without_one():
    steps = np.arange(5000)
    rng = np.random.default_rng(0)
    assert estimate_period(np.sin(2 * np.pi * steps / 48) + 0.05 * rng.normal(size=5000)) == 48
    assert estimate_period(steps.astype(float)) == 125  # a ramp: no local maximum


def test_validation_threshold_is_the_midpoint_of_the_class_means():
    scores = np.array([1.0, 2.0, 3.0, 10.0, 20.0])
    assert validation_threshold(scores, np.array([0, 0, 0, 1, 1])) == pytest.approx(8.5)
    normal = np.array([1.0, 3.0])
    assert validation_threshold(normal, np.zeros(2)) == pytest.approx(2.0 + 3 * 1.0)
    # a validation part labelled anomalous throughout: the training scores stand for normal
    anomalous = np.array([10.0, 20.0])
    assert validation_threshold(anomalous, np.ones(2), normal_reference=normal) == 8.5
    assert np.isnan(validation_threshold(anomalous, np.ones(2)))


def test_sigma_threshold_is_mean_plus_beta_sigma():
    scores = np.array([1.0, 2.0, 3.0, 4.0])
    assert sigma_threshold(scores, 2.0) == pytest.approx(2.5 + 2 * np.sqrt(1.25))


def test_pot_threshold_recovers_an_exponential_quantile():
    # Exp(1): P(S > s) = exp(-s), so the score exceeded with probability q is -ln q
    scores = np.random.default_rng(3).exponential(size=200_000)
    assert pot_threshold(scores, 1e-4, 0.98) == pytest.approx(-np.log(1e-4), rel=0.05)
    few = np.arange(100.0)  # 2 excesses over the 98 % quantile: the largest score
    assert pot_threshold(few, 1e-3, 0.98) == 99.0


def test_adaptive_threshold_is_mean_plus_beta_sigma_of_the_past_window():
    rng = np.random.default_rng(4)
    history, scores = rng.normal(size=50), rng.normal(size=30)
    thresholds = adaptive_threshold(history, scores, window=10, beta=2.0)
    series = np.concatenate([history, scores])
    for t in range(30):
        past = series[50 + t - 10 : 50 + t]
        assert thresholds[t] == pytest.approx(past.mean() + 2.0 * past.std())
    # after a level shift the threshold follows the new level within one window
    shifted = adaptive_threshold(np.zeros(20), np.full(40, 5.0), window=10, beta=3.0)
    assert shifted[0] == pytest.approx(0.0) and shifted[-1] == pytest.approx(5.0)
    # scores far from 0 with a small spread: sigma is not lost to the level's rounding
    level = 1e4 + np.random.default_rng(5).normal(scale=1e-3, size=20_000)
    far = adaptive_threshold(level[:100], level[100:], window=100, beta=3.0)
    windows = np.lib.stride_tricks.sliding_window_view(level[:-1], 100)
    direct = windows.mean(axis=1) + 3.0 * windows.std(axis=1)
    assert np.abs(far - direct).max() < 1e-3 * 1e-3  # a thousandth of sigma
    with pytest.raises(ValueError, match="at least one score before the first"):
        adaptive_threshold(np.zeros(0), scores, window=10, beta=2.0)


def scores_for(test: np.ndarray, types: np.ndarray) -> PartScores:
    rng = np.random.default_rng(1)
    validation_types = np.zeros(200, dtype=np.int8)
    validation_types[50:60] = 1
    return PartScores(
        train=rng.normal(size=500),
        validation=rng.normal(size=200) + 6 * (validation_types != 0),
        validation_types=validation_types,
        test=test,
        test_types=types,
    )


def test_a_monitor_report_thresholds_predicts_and_ranks_the_controls():
    rng = np.random.default_rng(2)
    types = np.zeros(400, dtype=np.int8)
    types[100:120] = 2
    types[300:330] = 3
    model = scores_for(rng.normal(size=400) + 6 * (types != 0), types)
    noise = scores_for(rng.normal(size=400), types)
    config = EvaluationConfig(vus_window=10, controls=["random"])
    beyond = np.zeros(400, dtype=bool)
    beyond[::7] = True
    report = evaluate_monitor("vm", model, {"random": noise}, config, np.zeros(10), beyond)
    # eq. 33 midpoint of the validation means (about 0 and 6)
    expected = validation_threshold(model.validation, model.validation_types)
    assert report.threshold == pytest.approx(expected) and 2.5 < report.threshold < 3.5
    np.testing.assert_array_equal(report.preds, (model.test > report.threshold).astype(np.int8))
    assert report.metrics["f1"] > 0.95 and report.metrics["vus_pr"] > 0.9
    assert report.controls["random"]["vus_pr"] < 0.3
    assert report.vus_window == 10
    np.testing.assert_array_equal(report.beyond_range, beyond)
    assert report.thresholds["oracle"]["f1"] >= report.thresholds["validation"]["f1"]
    sigma = evaluate_monitor(
        "vm", model, {}, EvaluationConfig(threshold="sigma", sigma_beta=2.0), np.zeros(10), beyond
    )
    assert sigma.threshold == pytest.approx(model.train.mean() + 2 * model.train.std())
    adaptive = evaluate_monitor(
        "vm",
        model,
        {},
        EvaluationConfig(threshold="adaptive", adaptive_window=50),
        np.zeros(10),
        beyond,
    )
    expected = adaptive_threshold(model.validation, model.test, 50, 3.0)
    np.testing.assert_array_equal(adaptive.preds, (model.test > expected).astype(np.int8))
    assert adaptive.threshold == pytest.approx(expected.mean())


def test_each_vm_of_a_monitor_gets_its_own_adaptive_history():
    rng = np.random.default_rng(3)
    types = np.zeros(400, dtype=np.int8)
    types[150:170] = 2
    one = scores_for(rng.normal(size=400) + 6 * (types != 0), types)
    # two VMs: validation 120 + 80 steps, test 250 + 150; the second VM runs at a higher level
    validation = np.concatenate([one.validation[:120], one.validation[120:] + 10])
    test = np.concatenate([one.test[:250], one.test[250:] + 10])
    two = PartScores(
        one.train, validation, one.validation_types, test, types,
        validation_lengths=(120, 80), test_lengths=(250, 150),
    )  # fmt: skip
    config = EvaluationConfig(threshold="adaptive", adaptive_window=50)
    report = evaluate_monitor("vm", two, {}, config, np.zeros(10), np.zeros(400, dtype=bool))
    expected = np.concatenate(
        [
            adaptive_threshold(validation[:120], test[:250], 50, 3.0),
            adaptive_threshold(validation[120:], test[250:], 50, 3.0),
        ]
    )
    np.testing.assert_array_equal(report.preds, (test > expected).astype(np.int8))
    # the second VM's first steps are judged against its own level, not the first VM's
    assert expected[250] > 8 and report.preds[250:260].sum() <= 1
    # series lengths that do not add up to the part are refused, not cut anyhow
    short = dataclasses.replace(two, test_lengths=(250, 140))
    with pytest.raises(ValueError, match=r"series of 390 steps in all for a part of 400 steps"):
        evaluate_monitor("vm", short, {}, config, np.zeros(10), np.zeros(400, dtype=bool))


def test_figures_without_anomalies_are_undefined_not_zero():
    labels, preds = np.zeros(6, dtype=np.int8), np.array([0, 1, 0, 0, 0, 0])
    figures = binary_metrics(labels, preds)
    assert np.isnan(figures["recall"]) and np.isnan(figures["f1"])
    assert figures["precision"] == 0.0 and figures["accuracy"] == pytest.approx(5 / 6)
    assert np.isnan(event_f1(labels, preds)) and np.isnan(oracle_f1(labels, np.arange(6.0))[0])


def test_rankings_without_a_normal_step_are_undefined():
    labels, scores = np.ones(8, dtype=np.int8), np.arange(8.0)
    volume = volume_under_surface(labels, scores, 2)
    assert np.isnan(volume.pr) and np.isnan(volume.roc)
    assert all(np.isnan(v) for v in ranking_metrics(labels, scores).values())


def report_of(types: list[int], preds: list[int], beyond: list[int]) -> MonitorReport:
    """A monitor's report holding only what the unseen-load count reads."""
    size = len(types)
    return MonitorReport(
        "vm", 0.0, 10, np.zeros(size), np.array(preds, dtype=np.int8),
        np.array(types, dtype=np.int8), np.array(beyond, dtype=bool), {}, {},
    )  # fmt: skip


def test_false_alarms_beyond_the_training_range_are_pooled_over_monitors():
    # monitor 1: normal steps 0-2, false alarms at 0 and 1, steps 0 and 2 beyond the range;
    # an alarm on the anomalous step 3 (beyond too) is no false alarm
    first = report_of([0, 0, 0, 2], [1, 1, 0, 1], [1, 0, 1, 1])
    second = report_of([0, 3], [0, 0], [0, 0])
    assert beyond_train_range([first, second]) == {
        "normal_steps": 4,
        "normal_steps_beyond": 2,
        "false_alarms": 2,
        "false_alarms_beyond": 1,
        "normal_share": 0.5,
        "false_alarm_share": 0.5,
    }
    quiet = beyond_train_range([second])
    assert quiet["false_alarms"] == 0 and quiet["false_alarm_share"] is None

    assert unseen_load_line({"beyond_train_range": quiet}) == (
        "No false alarms at the deployable threshold."
    )
    pooled = {"beyond_train_range": beyond_train_range([first, second])}
    assert unseen_load_line(pooled) == (
        "False alarms on steps where a metric is outside its training range: 1 of 2 (50%); "
        "such steps are 50.0% of the normal test steps."
    )


def test_beyond_range_flags_must_match_the_test_steps():
    types = np.zeros(40, dtype=np.int8)
    model = scores_for(np.arange(40.0), types)
    shapes = r"vm: beyond-range flags of shape \(39,\) for test scores of shape \(40,\)"
    with pytest.raises(ValueError, match=shapes):
        evaluate_monitor("vm", model, {}, EvaluationConfig(vus_window=5), np.zeros(10),
                         np.zeros(39, dtype=bool))  # fmt: skip


def test_the_summary_ranks_each_type_per_monitor_and_is_strict_json():
    """Per-type AUC-PR is each monitor's own ranking averaged (two monitors whose scores differ
    in scale by 100 would rank each other's steps if pooled); a monitor whose test part holds no
    anomaly (oracle threshold infinite, F1 undefined) still gives strict JSON."""
    rng = np.random.default_rng(4)
    types = np.zeros(400, dtype=np.int8)
    types[100:130] = 2
    config = EvaluationConfig(vus_window=10, controls=["random"])
    reports = []
    for name, scale in (("low", 1.0), ("high", 100.0)):
        model = scores_for(scale * (rng.normal(size=400) + 1.5 * (types != 0)), types)
        noise = scores_for(rng.normal(size=400), types)
        reports.append(evaluate_monitor(name, model, {"random": noise}, config, np.zeros(10),
                                        np.zeros(400, dtype=bool)))  # fmt: skip
    quiet = np.zeros(400, dtype=np.int8)
    model = scores_for(rng.normal(size=400), quiet)
    reports.append(evaluate_monitor("quiet", model, {"random": model}, config, np.zeros(10),
                                    np.zeros(400, dtype=bool)))  # fmt: skip
    # a threshold that is not a number (none fits the scores) is null, as every figure is
    reports.append(dataclasses.replace(reports[-1], name="lost", threshold=float("nan")))
    topology = resolve_topology(settings={"evaluation.controls": ["random"]})
    summary = detection_summary(topology, reports)
    labels = (types != 0).astype(int)
    own = [average_precision_score(labels, r.scores) for r in reports[:2]]
    pooled = average_precision_score(
        np.tile(labels, 2), np.concatenate([r.scores for r in reports[:2]])
    )
    assert summary["by_type"]["memory_leak"]["auc_pr"] == pytest.approx(np.mean(own))
    assert abs(np.mean(own) - pooled) > 0.05  # the case tells the two apart
    text = json.dumps(summary, allow_nan=False)  # raises on NaN or an infinity
    oracle = json.loads(text)["per_monitor"]["quiet"]["by_threshold"]["oracle"]
    assert oracle["threshold"] is None and oracle["f1"] is None
    assert json.loads(text)["per_monitor"]["lost"]["threshold"] is None
    assert json.loads(text)["threshold"] is None
