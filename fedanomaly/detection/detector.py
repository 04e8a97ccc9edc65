"""A monitor's detection: score its parts with G, E and its own critic, threshold, predict."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedanomaly.config.schema import ModelConfig
from fedanomaly.data.pipeline import MonitorData
from fedanomaly.detection.scoring import (
    ScoreScale,
    midpoint_threshold,
    steps_from_windows,
    window_terms,
)
from fedanomaly.models.biwgan import Critic, Encoder, Generator
from fedanomaly.models.sides import GanShape


@dataclass
class MonitorDetection:
    """Step scores, the deployable threshold and predictions of one monitor's test part."""

    name: str
    threshold: float
    scores: np.ndarray
    preds: np.ndarray
    types: np.ndarray


def part_scores(
    data: MonitorData,
    split: str,
    modules: tuple[Generator, Encoder, Critic],
    shape: GanShape,
    scale: ScoreScale,
) -> np.ndarray:
    """Step scores of one part over all the monitor's VMs, concatenated."""
    scores = []
    for vm in data.vms:
        windows = np.lib.stride_tricks.sliding_window_view(
            vm.part(split).scaled, shape.length, axis=0
        )
        recon, critic = window_terms(*modules, windows.transpose(0, 2, 1), shape)
        scores.append(steps_from_windows(scale.combine(recon, critic)))
    return np.concatenate(scores)


def detect(
    data: MonitorData,
    modules: tuple[Generator, Encoder, Critic],
    shape: GanShape,
    config: ModelConfig,
) -> MonitorDetection:
    """Fit the score scale on training windows, the threshold on validation, predict test."""
    train = data.windows("train", shape.length, config.window_stride)
    recon, critic = window_terms(*modules, train, shape)
    scale = ScoreScale.fit(recon, critic, config.score_weight, shape.variant.bidirectional)
    validation = part_scores(data, "validation", modules, shape, scale)
    validation_types = np.concatenate([vm.validation.types for vm in data.vms])
    threshold = midpoint_threshold(validation, validation_types)
    test = part_scores(data, "test", modules, shape, scale)
    test_types = np.concatenate([vm.test.types for vm in data.vms])
    return MonitorDetection(
        data.name, threshold, test, (test > threshold).astype(np.int8), test_types
    )
