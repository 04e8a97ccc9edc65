"""Data sources by type name, and opening one from its config."""

from __future__ import annotations

from fedanomaly.config.schema import (
    BitbrainsConfig,
    CsvConfig,
    PickleConfig,
    SmdConfig,
    SourceConfig,
    SyntheticVnfConfig,
)
from fedanomaly.data.sources.base import DataSource
from fedanomaly.data.sources.bitbrains import BitbrainsSource
from fedanomaly.data.sources.csv_table import CsvSource
from fedanomaly.data.sources.pickle_layout import PickleLayoutSource
from fedanomaly.data.sources.smd import SmdSource
from fedanomaly.data.sources.synthetic import SyntheticVnfSource


def open_source(config: SourceConfig, seed: int) -> DataSource:
    """Open the source a config describes.

    Parameters
    ----------
    config
        A source config from the topology or from :func:`fedanomaly.config.parse_source`.
    seed
        Topology seed (generated sources use it).

    Raises
    ------
    InputError
        If the path is missing or holds no data of that type.
    """
    match config:
        case SyntheticVnfConfig():
            return SyntheticVnfSource(config, seed)
        case SmdConfig():
            return SmdSource(config)
        case PickleConfig():
            return PickleLayoutSource(config)
        case BitbrainsConfig():
            return BitbrainsSource(config)
        case CsvConfig():
            return CsvSource(config)
    raise TypeError(f"unhandled source config {type(config).__name__}")


__all__ = ["DataSource", "open_source"]
