"""Time-ordered splits, min-max scaling fitted on train data, and fixed-length windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import MinMaxScaler

from fedanomaly.config.schema import SplitConfig
from fedanomaly.data.series import EntityData, MetricSeries
from fedanomaly.errors import InputError

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitSeries:
    """The three time-ordered, non-overlapping parts of one VM's series."""

    train: MetricSeries
    validation: MetricSeries
    test: MetricSeries

    def part(self, split: str) -> MetricSeries:
        """The part named ``split`` (one of :data:`SPLITS`)."""
        return getattr(self, split)


def split_entity(data: EntityData, config: SplitConfig, where: str) -> SplitSeries:
    """Cut an entity's series into train, validation and test parts in time order.

    Without a published test part the series is cut at the fractions of ``config``; with one
    (SMD) the published train part is cut into train and validation in the ratio
    ``train : validation`` and the published test part is kept whole.

    Parameters
    ----------
    data
        The entity's series, and its published test part if any.
    config
        The split fractions.
    where
        What to name in errors.

    Returns
    -------
    SplitSeries
        The three parts; cut points are rounded to whole steps.

    Raises
    ------
    InputError
        If a part would be empty.
    """
    steps = len(data.series)
    if data.test is None:
        train_end = round(steps * config.train)
        validation_end = train_end + round(steps * config.validation)
        parts = (
            data.series.rows(0, train_end),
            data.series.rows(train_end, validation_end),
            data.series.rows(validation_end, steps),
        )
    else:
        train_end = round(steps * config.train / (config.train + config.validation))
        parts = (data.series.rows(0, train_end), data.series.rows(train_end, steps), data.test)
    for name, part in zip(SPLITS, parts, strict=True):
        if len(part) == 0:
            raise InputError(f"{where}: {steps} steps leave the {name} part empty")
    return SplitSeries(*parts)


def fit_scaler(train: np.ndarray) -> MinMaxScaler:
    """A min-max scaler onto [0, 1] fitted on train values only.

    Validation and test values are mapped with the train minimum and maximum, so they may fall
    outside [0, 1]; a column that is constant in train is shifted, not stretched.
    """
    return MinMaxScaler(feature_range=(0.0, 1.0), clip=False).fit(train)


def window_starts(steps: int, length: int, stride: int) -> np.ndarray:
    """First step of each window of ``length`` steps taken every ``stride`` steps.

    Parameters
    ----------
    steps
        Length of the series.
    length
        Steps per window.
    stride
        Steps between the starts of consecutive windows.

    Returns
    -------
    numpy.ndarray
        The start steps, int64; empty where ``length`` exceeds ``steps``.
    """
    if length > steps:
        return np.empty(0, dtype=np.int64)
    return np.arange(0, steps - length + 1, stride, dtype=np.int64)


def make_windows(values: np.ndarray, length: int, stride: int, where: str) -> np.ndarray:
    """Windows of shape ``(count, length, metrics)`` over a ``(steps, metrics)`` array.

    The result is a read-only view, not a copy.

    Parameters
    ----------
    values
        The series, shape ``(steps, metrics)``.
    length
        Steps per window.
    stride
        Steps between the starts of consecutive windows.
    where
        What to name in errors.

    Returns
    -------
    numpy.ndarray
        The windows starting at :func:`window_starts`, shape ``(count, length, metrics)``.

    Raises
    ------
    InputError
        If the window is longer than the series.
    """
    if length > values.shape[0]:
        raise InputError(
            f"{where}: window length {length} is longer than the series ({values.shape[0]} steps)"
        )
    view = np.lib.stride_tricks.sliding_window_view(values, length, axis=0)
    return view[::stride].transpose(0, 2, 1)


def resident_bytes(array: np.ndarray) -> int:
    """Bytes an array holds in memory: those of the array it views (windows from
    :func:`make_windows` hold their part once, not once per window)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return int(array.nbytes)
