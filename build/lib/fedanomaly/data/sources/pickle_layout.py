"""The ``<entity>_train.pkl / _test.pkl / _test_label.pkl`` layout (SMD and others), read safely.

Pickles can run arbitrary code when loaded, so they are read with an unpickler that admits
only what rebuilds a numpy array; anything else is refused before it runs.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from fedanomaly.config.schema import PickleConfig
from fedanomaly.data.metrics import MetricSpec, unnamed_metrics
from fedanomaly.data.series import EntityData, MetricSeries, checked_values
from fedanomaly.data.sources.base import FileSource, natural_key
from fedanomaly.errors import InputError

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        """The global a pickle refers to, if it is one that rebuilds a numpy array.

        Parameters
        ----------
        module, name
            The global as the pickle names it; ``numpy.core`` names are read as
            ``numpy._core``.

        Returns
        -------
        Any
            The allowed global.

        Raises
        ------
        pickle.UnpicklingError
            For any other global, before it is imported.
        """
        target = _ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: only numpy arrays load")
        return super().find_class(*target)


def load_array_pickle(path: Path) -> np.ndarray:
    """Load a pickle that holds one numpy array, admitting nothing else.

    Raises
    ------
    InputError
        If the file is missing, is not a pickle, refers to anything but numpy array
        reconstruction, or holds something other than an array.
    """
    try:
        with path.open("rb") as stream:
            loaded = NumpyOnlyUnpickler(stream).load()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise InputError(f"{path}: not a numpy-array pickle ({error})") from None
    if not isinstance(loaded, np.ndarray):
        raise InputError(f"{path}: holds a {type(loaded).__name__}, not a numpy array")
    return loaded


def read_labels(path: Path, steps: int, loader: Any) -> np.ndarray:
    """Read 0/1 labels from ``path`` with ``loader`` and check there is one per step.

    Parameters
    ----------
    path
        The label file.
    steps
        Steps of the test part the labels belong to.
    loader
        Reads ``path`` into an array (:func:`load_array_pickle`, or a text reader); the
        array is flattened.

    Returns
    -------
    numpy.ndarray
        The labels as ``int8``, shape ``(steps,)``.

    Raises
    ------
    InputError
        If the count is not ``steps`` or a label is not 0 or 1 (or ``loader`` raises it).
    """
    labels = np.asarray(loader(path)).reshape(-1)
    if labels.size != steps:
        raise InputError(f"{path}: {labels.size} labels for {steps} test steps")
    if not np.isin(labels, (0, 1)).all():
        raise InputError(f"{path}: labels must be 0 or 1")
    return labels.astype(np.int8)


class PickleLayoutSource(FileSource):
    """A folder of ``<entity>_train.pkl`` files with optional ``_test.pkl`` and ``_test_label.pkl``.

    Parameters
    ----------
    config
        Folder path, and column groups (metric families by column index) where columns have
        no names.
    """

    type_name = "pickle"

    def __init__(self, config: PickleConfig) -> None:
        super().__init__(config, self.type_name, directory=True)
        self.column_groups = config.column_groups
        if not self.entities():
            raise InputError(f"{self.path}: no <entity>_train.pkl files in this folder")

    def entities(self) -> list[str]:
        names = (p.name.removesuffix("_train.pkl") for p in self.path.glob("*_train.pkl"))
        return sorted(names, key=natural_key)

    def metrics(self, count: int) -> tuple[MetricSpec, ...]:
        """Column specs for ``count`` columns.

        Raises
        ------
        InputError
            If ``column_groups`` names a column the data do not have.
        """
        beyond = sorted(i for indices in self.column_groups.values() for i in indices if i >= count)
        if beyond:
            raise InputError(
                f"{self.path}: column_groups names column {beyond[0]}, but the data have "
                f"{count} columns (0-{count - 1})"
            )
        return tuple(unnamed_metrics(count, self.column_groups))

    def load(self, entity: str, slice_name: str) -> EntityData:
        """Read one entity's pickles.

        Parameters
        ----------
        entity
            The entity: the name before ``_train.pkl``.
        slice_name
            Not used.

        Returns
        -------
        EntityData
            The train series, and the test part where ``<entity>_test.pkl`` exists, with its
            labels where ``<entity>_test_label.pkl`` exists; no timestamps.

        Raises
        ------
        InputError
            If the entity has no train file, a file is not a numpy-array pickle, the values
            are not a non-empty, finite numeric matrix with the train part's columns,
            ``column_groups`` names a column the data lack, or the labels do not fit the test
            part.
        """
        train_file = self.path / f"{entity}_train.pkl"
        if not train_file.is_file():
            raise self.unknown_entity(entity)
        train = load_array_pickle(train_file)
        metrics = self.metrics(train.shape[-1] if train.ndim == 2 else 1)
        series = MetricSeries(checked_values(train, metrics, str(train_file)), metrics)
        test_file = self.path / f"{entity}_test.pkl"
        if not test_file.is_file():
            return EntityData(entity, series)
        test_values = checked_values(load_array_pickle(test_file), metrics, str(test_file))
        label_file = self.path / f"{entity}_test_label.pkl"
        labels = (
            read_labels(label_file, len(test_values), load_array_pickle)
            if label_file.is_file()
            else None
        )
        return EntityData(entity, series, MetricSeries(test_values, metrics, labels))
