"""A monitor's model scores on its three parts: eq. 28 per window with G, E and its own critic
for the split GANs, the reconstruction error per position (squared, standardised per metric or
robust) for a local autoencoder; a step's score is the mean over the windows holding it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from fedanomaly.config.schema import ModelConfig
from fedanomaly.data.pipeline import MonitorData
from fedanomaly.data.preprocessing import make_windows
from fedanomaly.detection.scoring import (
    CHUNK,
    ScoreScale,
    metric_scale,
    robust_deviation,
    robust_metric_scale,
    squared_zscores,
    steps_from_windows,
    window_terms,
)
from fedanomaly.evaluation.report import PartScores
from fedanomaly.models.attae import Attae
from fedanomaly.models.biwgan import Critic, Encoder, Generator
from fedanomaly.models.sides import GanShape


def step_windows(data: MonitorData, split: str, length: int) -> list[np.ndarray]:
    """Stride-1 windows ``(count, T, d)`` of one part, per VM (views, not copies).

    Parameters
    ----------
    data
        The monitor.
    split
        The part: ``train``, ``validation`` or ``test``.
    length
        Window length T.

    Returns
    -------
    list of numpy.ndarray
        One read-only array of windows per VM, in the order of ``data.vms``.

    Raises
    ------
    InputError
        If a VM's part is shorter than ``length``.
    """
    return [
        make_windows(
            vm.part(split).scaled, length, 1, f"monitor {data.name}, VM {vm.name}, {split}"
        )
        for vm in data.vms
    ]


def part_types(data: MonitorData, split: str) -> np.ndarray:
    """Type codes of one part over all the monitor's VMs, concatenated.

    Parameters
    ----------
    data
        The monitor.
    split
        The part: ``train``, ``validation`` or ``test``.

    Returns
    -------
    numpy.ndarray
        One type code per step (0 normal), the VMs' series end to end.
    """
    return np.concatenate([vm.part(split).types for vm in data.vms])


def part_lengths(data: MonitorData, split: str) -> tuple[int, ...]:
    """Steps of one part in each of the monitor's VMs.

    Parameters
    ----------
    data
        The monitor.
    split
        The part: ``train``, ``validation`` or ``test``.

    Returns
    -------
    tuple of int
        One count per VM, in the order of ``data.vms`` (one entry for a single VM too).
    """
    return tuple(len(vm.part(split)) for vm in data.vms)


def scores_by_part(data: MonitorData, part: Callable[[str], np.ndarray]) -> PartScores:
    """The scores ``part(split)`` gives for each of the three parts, with their step types
    and each VM's number of steps.

    Parameters
    ----------
    data
        The monitor.
    part
        Maps a part's name (``train``, ``validation``, ``test``) to its step scores, the VMs'
        series end to end; called once per part, in that order.

    Returns
    -------
    PartScores
        The three parts' scores, the validation and test type codes and each VM's number of
        validation and test steps (no scores of generated windows).
    """
    return PartScores(
        part("train"),
        part("validation"),
        part_types(data, "validation"),
        part("test"),
        part_types(data, "test"),
        validation_lengths=part_lengths(data, "validation"),
        test_lengths=part_lengths(data, "test"),
    )


def window_part_scores(
    data: MonitorData, length: int, position_scores: Callable[[np.ndarray], np.ndarray]
) -> PartScores:
    """Every step of the three parts scored from its stride-1 windows: ``position_scores`` maps
    windows ``(n, T, d)`` to scores ``(n, T)``, averaged per step over the windows holding it.

    Parameters
    ----------
    data
        The monitor.
    length
        Window length T.
    position_scores
        Maps one VM's windows of a part ``(n, T, d)`` to scores ``(n, T)``.

    Returns
    -------
    PartScores
        Per-step scores of the three parts (see :func:`scores_by_part`).
    """

    def part(split: str) -> np.ndarray:
        return np.concatenate(
            [steps_from_windows(position_scores(w)) for w in step_windows(data, split, length)]
        )

    return scores_by_part(data, part)


def model_scores(
    data: MonitorData,
    modules: tuple[Generator, Encoder | None, Critic],
    shape: GanShape,
    config: ModelConfig,
) -> PartScores:
    """Fit the score scale on the training windows, then score every step of the three parts:
    the mean of eq. 28 over the windows that contain the step.

    Parameters
    ----------
    data
        The monitor.
    modules
        The trained G, E (``None`` for the variants without an encoder) and the monitor's
        critic D.
    shape
        Window length T and the split GAN's variant (not ``None``).
    config
        ``window_stride`` of the training windows the scale is fitted on, ``score_weight``
        (gamma), ``metric_pooling`` and ``covariance_shrinkage``.

    Returns
    -------
    PartScores
        Per-step scores of the three parts.
    """
    train = data.windows("train", shape.length, config.window_stride)
    residuals, critic = window_terms(*modules, train)
    scale = ScoreScale.fit(
        residuals,
        critic,
        config.score_weight,
        shape.variant.bidirectional,
        config.metric_pooling,
        config.covariance_shrinkage,
    )

    def position_scores(windows: np.ndarray) -> np.ndarray:
        window_scores = scale.combine(*window_terms(*modules, windows))
        return np.repeat(window_scores[:, None], shape.length, axis=1)

    return window_part_scores(data, shape.length, position_scores)


def reconstruction_map(
    model: Attae, windows: np.ndarray, reduce: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``reduce`` applied to the absolute reconstruction errors ``(chunk, T, d)`` of each chunk
    of windows, the results concatenated (no more than a chunk of errors is held at once).

    Parameters
    ----------
    model
        The autoencoder.
    windows
        Windows ``(n, T, d)``, float32 like the model; at least one.
    reduce
        Maps a chunk's absolute errors ``(chunk, T, d)`` to an array with one row per window.

    Returns
    -------
    numpy.ndarray
        The reduced chunks concatenated along the first axis, ``(n, ...)`` (no gradients).
    """
    results = []
    with torch.no_grad():
        for start in range(0, len(windows), CHUNK):
            x = torch.from_numpy(np.ascontiguousarray(windows[start : start + CHUNK]))
            results.append(reduce((x - model(x)).abs().numpy()))
    return np.concatenate(results)


def position_scorer(
    model: Attae, config: ModelConfig, data: MonitorData
) -> Callable[[np.ndarray], np.ndarray]:
    """Windows ``(n, T, d)`` -> scores ``(n, T)`` by ``config.reconstruction_score``: ``mse``;
    ``standardized``, each metric's error standardised by its mean and standard deviation on
    the monitor's training windows, squared; or ``robust``, each metric's error's absolute
    distance from its training median in robust spreads. Both average over metrics.

    Parameters
    ----------
    model
        The trained autoencoder.
    config
        ``reconstruction_score``, and ``window_length`` and ``window_stride`` of the training
        windows the per-metric scale is fitted on.
    data
        The monitor whose training windows fit the scale (not read for ``mse``).

    Returns
    -------
    callable
        Maps windows ``(n, T, d)`` to scores ``(n, T)``.

    Raises
    ------
    ValueError
        If ``config.reconstruction_score`` is not ``mse``, ``standardized`` or ``robust``.
    """
    if config.reconstruction_score == "mse":
        return lambda windows: reconstruction_map(model, windows, squared_mean)
    train = data.windows("train", config.window_length, config.window_stride)
    train_errors = reconstruction_map(model, train, np.asarray)
    if config.reconstruction_score == "standardized":
        mean, std = metric_scale(train_errors)

        def reduce(errors: np.ndarray) -> np.ndarray:
            return squared_zscores(errors, mean, std).mean(axis=2)

    elif config.reconstruction_score == "robust":
        median, spread = robust_metric_scale(train_errors)

        def reduce(errors: np.ndarray) -> np.ndarray:
            return robust_deviation(errors, median, spread)

    else:
        raise ValueError(f"unknown reconstruction score '{config.reconstruction_score}'")

    return lambda windows: reconstruction_map(model, windows, reduce)


def squared_mean(errors: np.ndarray) -> np.ndarray:
    """The squared errors ``(n, T, d)`` averaged over metrics: ``(n, T)``."""
    return (errors**2).mean(axis=2)


def local_model_scores(
    data: MonitorData, model: Attae, config: ModelConfig, generated: np.ndarray | None = None
) -> PartScores:
    """ATTAE's score of every step of the three parts: the mean over the windows containing
    the step of its score (:func:`position_scorer`) at the step's position. With ``generated``
    anomalous windows, the mean step score of each comes too (its score averaged over
    positions: the ``generated`` threshold's anomalous scores).

    Parameters
    ----------
    data
        The monitor.
    model
        The trained autoencoder.
    config
        Window length T and the score (see :func:`position_scorer`).
    generated
        Generated anomalous windows ``(g, T, d)`` (cmsf-attae), or ``None``.

    Returns
    -------
    PartScores
        Per-step scores of the three parts, with ``generated`` ``(g,)`` where windows were
        given.
    """
    scorer = position_scorer(model, config, data)
    scores = window_part_scores(data, config.window_length, scorer)
    if generated is None:
        return scores
    return dataclasses.replace(scores, generated=scorer(generated).mean(axis=1))
