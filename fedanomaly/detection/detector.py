"""A monitor's model scores: eq. 28 on its three parts with G, E and its own critic."""

from __future__ import annotations

import numpy as np

from fedanomaly.config.schema import ModelConfig
from fedanomaly.data.pipeline import MonitorData
from fedanomaly.detection.scoring import ScoreScale, steps_from_windows, window_terms
from fedanomaly.evaluation.report import PartScores
from fedanomaly.models.biwgan import Critic, Encoder, Generator
from fedanomaly.models.sides import GanShape


def step_windows(data: MonitorData, split: str, length: int) -> list[np.ndarray]:
    """Stride-1 windows ``(count, T, d)`` of one part, per VM (views, not copies)."""
    return [
        np.lib.stride_tricks.sliding_window_view(vm.part(split).scaled, length, axis=0).transpose(
            0, 2, 1
        )
        for vm in data.vms
    ]


def part_types(data: MonitorData, split: str) -> np.ndarray:
    """Type codes of one part over all the monitor's VMs, concatenated."""
    return np.concatenate([vm.part(split).types for vm in data.vms])


def model_scores(
    data: MonitorData,
    modules: tuple[Generator, Encoder, Critic],
    shape: GanShape,
    config: ModelConfig,
) -> PartScores:
    """Fit the score scale on the training windows, then score every step of the three parts."""
    train = data.windows("train", shape.length, config.window_stride)
    recon, critic = window_terms(*modules, train, shape)
    scale = ScoreScale.fit(recon, critic, config.score_weight, shape.variant.bidirectional)

    def part(split: str) -> np.ndarray:
        steps = []
        for windows in step_windows(data, split, shape.length):
            steps.append(steps_from_windows(scale.combine(*window_terms(*modules, windows, shape))))
        return np.concatenate(steps)

    return PartScores(
        part("train"),
        part("validation"),
        part_types(data, "validation"),
        part("test"),
        part_types(data, "test"),
    )
