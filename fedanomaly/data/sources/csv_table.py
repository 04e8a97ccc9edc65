"""``csv``: any CSV file, or a folder of CSV files with one entity per file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fedanomaly.config.schema import CsvConfig
from fedanomaly.data.metrics import Family, MetricSpec
from fedanomaly.data.series import EntityData, MetricSeries, checked_values
from fedanomaly.data.sources.base import FileSource, natural_key
from fedanomaly.errors import InputError


def detect_delimiter(path: Path) -> str:
    """The most frequent of ``,``, ``;`` and tab in the header line."""
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            header = stream.readline()
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error}") from None
    return max((",", ";", "\t"), key=header.count)


def read_table(path: Path, delimiter: str | None) -> pd.DataFrame:
    """Read a CSV file into a frame of strings-or-numbers with stripped column names."""
    try:
        frame = pd.read_csv(
            path, sep=delimiter or detect_delimiter(path), skipinitialspace=True, dtype=str
        )
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable CSV table ({str(error).strip()})") from None
    frame.columns = [str(column).strip() for column in frame.columns]
    if frame.empty:
        raise InputError(f"{path}: the table has no rows")
    return frame


def numeric_column(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """A column as float64; a cell that is not a number is an error naming it."""
    text = frame[column].str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() & text.notna() & ~text.str.lower().isin(("nan", "inf", "-inf", ""))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{path}: column '{column}' is not numeric (row {row + 2}: {text.iloc[row]!r})"
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def require_columns(frame: pd.DataFrame, wanted: list[str], path: Path, what: str) -> None:
    """Raise an error naming the first of ``wanted`` that the table lacks."""
    for column in wanted:
        if column not in frame.columns:
            raise InputError(
                f"{path}: no {what} column '{column}' (columns: {', '.join(frame.columns)})"
            )


def timestamp_seconds(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """A timestamp column as seconds: numbers as they are, dates since the epoch."""
    text = frame[column].str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(dtype=np.float64)
    dates = pd.to_datetime(text, errors="coerce", utc=True)
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise InputError(f"{path}: timestamp column '{column}' row {row + 2}: {text.iloc[row]!r}")
    return (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()


class CsvSource(FileSource):
    """Metric columns of CSV files, with optional timestamp and label columns.

    Parameters
    ----------
    config
        Path (a file, or a folder whose ``*.csv`` files are the entities), the metric columns
        (default: every column but the timestamp and label), the delimiter (default: detected)
        and metric families by column name.
    """

    type_name = "csv"

    def __init__(self, config: CsvConfig) -> None:
        super().__init__(config, self.type_name, directory=False)
        self.csv = config
        if self.path.is_dir() and not self.entities():
            raise InputError(f"{self.path}: no *.csv files in this folder")

    def entities(self) -> list[str]:
        if self.path.is_dir():
            return sorted((p.stem for p in self.path.glob("*.csv")), key=natural_key)
        return [self.path.stem]

    def entity_file(self, entity: str) -> Path:
        """The file that holds ``entity``."""
        if entity not in self.entities():
            raise self.unknown_entity(entity)
        return self.path / f"{entity}.csv" if self.path.is_dir() else self.path

    def metric_specs(self, columns: list[str]) -> tuple[MetricSpec, ...]:
        """Specs for the chosen columns, families from the configured column groups."""
        family_of = {
            name: family for family, names in self.csv.column_groups.items() for name in names
        }
        return tuple(MetricSpec(c, family_of.get(c, Family.OTHER), lower=None) for c in columns)

    def load(self, entity: str, slice_name: str) -> EntityData:
        path = self.entity_file(entity)
        frame = read_table(path, self.csv.delimiter)
        special = [c for c in (self.csv.timestamp_column, self.csv.label_column) if c]
        require_columns(frame, special, path, "timestamp or label")
        if self.csv.columns is not None:
            require_columns(frame, self.csv.columns, path, "metric")
            columns = list(self.csv.columns)
        else:
            columns = [c for c in frame.columns if c not in special]
        if not columns:
            raise InputError(f"{path}: no metric columns left to read")
        grouped = [name for names in self.csv.column_groups.values() for name in names]
        require_columns(frame, grouped, path, "grouped")
        metrics = self.metric_specs(columns)
        values = np.column_stack([numeric_column(frame, c, path) for c in columns])
        labels = None
        if self.csv.label_column:
            raw = numeric_column(frame, self.csv.label_column, path)
            labels = (np.nan_to_num(raw) != 0).astype(np.int8)
        timestamps = (
            timestamp_seconds(frame, self.csv.timestamp_column, path)
            if self.csv.timestamp_column
            else None
        )
        series = MetricSeries(
            checked_values(values, metrics, str(path)), metrics, labels, timestamps
        )
        return EntityData(entity, series)
