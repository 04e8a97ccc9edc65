"""Containers for raw metric series as a data source delivers them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fedanomaly.data.metrics import MetricSpec
from fedanomaly.errors import InputError


@dataclass(frozen=True)
class MetricSeries:
    """A multivariate metric series of one VM, in the source's own units.

    Parameters
    ----------
    values
        Array of shape ``(steps, metrics)``, float64.
    metrics
        One spec per column.
    labels
        Optional real anomaly labels, one 0/1 value per step.
    timestamps
        Optional timestamps, one per step (seconds or the source's own unit).
    """

    values: np.ndarray
    metrics: tuple[MetricSpec, ...]
    labels: np.ndarray | None = None
    timestamps: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def rows(self, start: int, stop: int) -> MetricSeries:
        """The steps ``start:stop`` as a new series (labels and timestamps follow).

        Parameters
        ----------
        start, stop
            Step bounds, as in a slice (``stop`` excluded).

        Returns
        -------
        MetricSeries
            The rows, as views of this series' arrays, with the same metric specs.
        """
        return MetricSeries(
            self.values[start:stop],
            self.metrics,
            None if self.labels is None else self.labels[start:stop],
            None if self.timestamps is None else self.timestamps[start:stop],
        )


@dataclass(frozen=True)
class EntityData:
    """What a source holds for one entity (a VM or machine).

    ``test`` is set where the source publishes its own test part (SMD); the train part is then
    split into train and validation only.
    """

    name: str
    series: MetricSeries
    test: MetricSeries | None = None


def checked_values(
    values: np.ndarray,
    metrics: tuple[MetricSpec, ...],
    where: str,
    first_line: int | None = None,
    lines: Callable[[], np.ndarray] | None = None,
) -> np.ndarray:
    """Return ``values`` as a float64 matrix after checking shape and finiteness.

    Parameters
    ----------
    values
        Candidate array.
    metrics
        Column specs; their count must match the array's columns.
    where
        What to name in an error: the file, and the part of it.
    first_line
        For text files, the file line of the first row: errors then name the line; otherwise
        they name the 0-based row of the array.
    lines
        For text files with skipped lines, gives the file line of every row (instead of
        ``first_line``); called only for an error.

    Raises
    ------
    InputError
        For a non-2-D or empty array, a column count that does not match, or NaN / inf values.
    """
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise InputError(
            f"{where}: expected a 2-D array of steps x metrics, got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise InputError(f"{where}: the series is empty")
    if array.shape[1] != len(metrics):
        raise InputError(f"{where}: expected {len(metrics)} metric columns, got {array.shape[1]}")
    if not np.issubdtype(array.dtype, np.number):
        raise InputError(f"{where}: values are not numeric (dtype {array.dtype})")
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(array[row, col]) else "inf"
        if lines is not None:
            at = f"line {lines()[row]}"
        else:
            at = f"line {row + first_line}" if first_line is not None else f"row {row}"
        raise InputError(
            f"{where}: {kind} value in column '{metrics[col].name}' at {at} "
            f"({int(bad.sum())} non-finite values in all)"
        )
    return array


def time_ordered(series: MetricSeries) -> MetricSeries:
    """The series sorted by timestamp, keeping the first of rows with equal timestamps.

    Real traces (Bitbrains among them) hold repeated rows; a series without timestamps is
    returned as it is.
    """
    if series.timestamps is None:
        return series
    order = np.argsort(series.timestamps, kind="stable")
    keep = order[np.concatenate(([True], np.diff(series.timestamps[order]) != 0))]
    if keep.size == len(series) and np.array_equal(keep, np.arange(len(series))):
        return series
    return MetricSeries(
        series.values[keep],
        series.metrics,
        None if series.labels is None else series.labels[keep],
        series.timestamps[keep],
    )
