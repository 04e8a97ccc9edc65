"""``csv``: any CSV file, or a folder of CSV files with one entity per file."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from fedanomaly.config.schema import CsvConfig
from fedanomaly.data.metrics import Family, MetricSpec
from fedanomaly.data.series import EntityData, MetricSeries, checked_values, time_ordered
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


def read_table(path: Path, delimiter: str | None, unnamed_allowed: bool = False) -> pd.DataFrame:
    """Read a CSV file into a frame of strings-or-numbers with stripped column names.

    Parameters
    ----------
    path
        The CSV file.
    delimiter
        The field delimiter; ``None`` detects it from the header line.
    unnamed_allowed
        Whether a column without a name may stand (where the columns to read are named, so
        that it is not read).

    Returns
    -------
    pandas.DataFrame
        Every cell as a string, leading spaces dropped (an empty cell, or one pandas reads as
        missing such as ``NA``, as NaN); the path and delimiter are kept in ``attrs`` for the
        line numbers of later errors (:func:`frame_lines`).

    Raises
    ------
    InputError
        If the file is missing or unreadable, is not a CSV table, has no rows, or its header
        repeats a column name or (unless ``unnamed_allowed``) leaves one empty.
    """
    sep = delimiter or detect_delimiter(path)
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            skipinitialspace=True,
            dtype=str,
            index_col=False,
        )
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror or error}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable CSV table ({str(error).strip()})") from None
    check_header(path, sep, unnamed_allowed)
    frame.columns = [str(column).strip() for column in frame.columns]
    if frame.empty:
        raise InputError(f"{path}: the table has no rows")
    frame.attrs["read"] = (path, sep)  # for the line numbers an error needs
    return frame


def check_header(path: Path, sep: str, unnamed_allowed: bool) -> None:
    """Refuse a header line with a repeated or an empty column name, which pandas would
    rename (``cpu.1``, ``Unnamed: 1``) into metrics the file does not have.

    Parameters
    ----------
    path
        The CSV file.
    sep
        Its field delimiter.
    unnamed_allowed
        Whether an empty name may stand.

    Raises
    ------
    InputError
        Naming the file, line 1 and the column (by its position, counted from 1).
    """
    header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, index_col=False)
    names = [None if pd.isna(cell) else str(cell).strip() for cell in header.iloc[0]]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            if unnamed_allowed:
                continue
            raise InputError(
                f"{path}: line 1: column {position} has no name (name it, or give the metric "
                "columns with 'columns')"
            )
        if name in seen:
            raise InputError(
                f"{path}: line 1: column {position} repeats the name {name!r} of column "
                f"{seen[name]}"
            )
        seen[name] = position


def data_lines(path: Path, rows: int, delimiter: str) -> np.ndarray:
    """The file line where each row read starts, since pandas skips blank lines and a quoted
    cell may span lines (an error must name the line a user finds in the file).

    Parameters
    ----------
    path
        The CSV file.
    rows
        The rows pandas read from it.
    delimiter
        Its delimiter.

    Returns
    -------
    numpy.ndarray
        One line number per row; ``row + 2`` where the file's records do not match the rows.
    """
    starts = []
    with path.open(encoding="utf-8", errors="replace", newline="") as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        previous = 0
        for record in reader:
            if record and not (len(record) == 1 and not record[0].strip()):  # a blank line
                starts.append(previous + 1)
            previous = reader.line_num
    lines = np.array(starts[1:], dtype=np.int64)  # after the header
    return lines if len(lines) == rows else np.arange(2, rows + 2, dtype=np.int64)


def file_line(frame: pd.DataFrame, row: int) -> int:
    """The file line where a row of a frame from :func:`read_table` starts.

    Parameters
    ----------
    frame
        The table read.
    row
        A 0-based row of it.

    Returns
    -------
    int
        The 1-based line number in the file.
    """
    return int(frame_lines(frame)[row])


def frame_lines(frame: pd.DataFrame) -> np.ndarray:
    """:func:`data_lines` of a frame from :func:`read_table`, worked out on the first error
    that needs them (a second pass over the file) and kept with the frame."""
    if "lines" not in frame.attrs:
        path, sep = frame.attrs["read"]
        frame.attrs["lines"] = data_lines(path, len(frame), sep)
    return frame.attrs["lines"]


def numeric_column(frame: pd.DataFrame, column: str, path: Path, hint: str = "") -> np.ndarray:
    """A column as float64 (an empty cell, ``nan`` or ``inf`` as such, for the later checks).

    Parameters
    ----------
    frame
        The table read (:func:`read_table`).
    column
        The column's name.
    path
        The file, for the message.
    hint
        Appended to the message.

    Returns
    -------
    numpy.ndarray
        The column's values.

    Raises
    ------
    InputError
        For a cell that is not a number, naming its line.
    """
    text = frame[column].str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() & text.notna() & ~text.str.lower().isin(("nan", "inf", "-inf", ""))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{path}: column '{column}' is not numeric (line {file_line(frame, row)}: "
            f"{text.iloc[row]!r}){hint}"
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


#: A column left to be chosen by default is a metric when at least this share of its non-empty
#: cells are numbers (all of them must be: a metric with a text cell is an error), and a text
#: column, skipped, below it.
MOSTLY_NUMERIC = 0.5


def numeric_share(frame: pd.DataFrame, column: str) -> float:
    """The share of a column's non-empty cells that are numbers (1 where none is filled).

    Parameters
    ----------
    frame
        The table read (:func:`read_table`).
    column
        The column's name.

    Returns
    -------
    float
        The share, in [0, 1].
    """
    text = frame[column].str.strip()
    filled = text[text.notna() & (text != "")]
    if filled.empty:
        return 1.0
    return float(pd.to_numeric(filled, errors="coerce").notna().mean())


def label_column(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """A label column as 0/1 ``int8``.

    Parameters
    ----------
    frame
        The table read (:func:`read_table`).
    column
        The label column's name.
    path
        The file, for the message.

    Returns
    -------
    numpy.ndarray
        1 for an anomalous row.

    Raises
    ------
    InputError
        For any value but 0 and 1, an empty cell included, naming its line.
    """
    raw = numeric_column(frame, column, path)
    bad = ~np.isin(raw, (0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        cell = frame[column].iloc[row]
        raise InputError(
            f"{path}: label column '{column}' line {file_line(frame, row)}: expected 0 or 1, got "
            f"{shown_cell(cell)}"
        )
    return raw.astype(np.int8)


def require_columns(frame: pd.DataFrame, wanted: list[str], path: Path, what: str) -> None:
    """Raise an error naming the first of ``wanted`` that the table lacks.

    Parameters
    ----------
    frame
        The table read (:func:`read_table`).
    wanted
        Column names.
    path
        The file, for the message.
    what
        What the columns are (``metric``, ``timestamp or label``, ...), for the message.

    Raises
    ------
    InputError
        If a column of ``wanted`` is not in the table; the message lists the table's columns.
    """
    for column in wanted:
        if column not in frame.columns:
            raise InputError(
                f"{path}: no {what} column '{column}' (columns: {', '.join(frame.columns)})"
            )


def shown_cell(cell: str | float) -> str:
    """A cell as a message shows it: quoted, or ``an empty or NaN cell`` for one read as NaN
    (empty, ``nan``, ``NA``, ``null`` and the like)."""
    return "an empty or NaN cell" if pd.isna(cell) else repr(cell.strip())


def date_readings(text: pd.Series, iso: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A column of dates read month first and day first (NaT where a cell does not read).

    Parameters
    ----------
    text
        The column's cells, stripped.
    iso
        The cells read as ISO 8601 (NaT where they are not).

    Returns
    -------
    tuple of pandas.Series
        Month first and day first, in UTC: in one format inferred from the first cell where
        one reads every cell, else each cell on its own, ISO 8601 cells as such (read day
        first, dateutil takes 2024-01-05 for 1 May).
    """
    readings = [
        pd.to_datetime(text, errors="coerce", utc=True, dayfirst=dayfirst)
        for dayfirst in (False, True)
    ]
    if not any(reading.notna().all() for reading in readings):  # formats differ by cell
        readings = [
            pd.to_datetime(
                text, errors="coerce", utc=True, dayfirst=dayfirst, format="mixed"
            ).where(iso.isna(), iso)
            for dayfirst in (False, True)
        ]
    return readings[0], readings[1]


def date_column(text: pd.Series, column: str, frame: pd.DataFrame, path: Path) -> pd.Series:
    """A column of dates, read month first or day first, whichever reads every cell.

    Parameters
    ----------
    text
        The column's cells, stripped.
    column
        Its name, for the message.
    frame
        The table read, for its line numbers.
    path
        The file, for the message.

    Returns
    -------
    pandas.Series
        The dates, in UTC (a date without a zone is taken as UTC): ISO 8601 where every cell
        is; else one format read from the first cell where one fits every cell, month first or
        day first; else each cell on its own.

    Raises
    ------
    InputError
        If a cell is not a date, or the cells read as different dates month first and day
        first (``01/02/2024`` with no day above 12 to tell), naming the first such line.
    """
    iso = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    if iso.notna().all():
        return iso
    with warnings.catch_warnings():  # "Could not infer format": each cell is then read alone
        warnings.simplefilter("ignore", UserWarning)
        monthfirst, dayfirst = date_readings(text, iso)
    complete = [reading for reading in (monthfirst, dayfirst) if reading.notna().all()]
    if len(complete) == 1:
        return complete[0]
    differ = (monthfirst.notna() & dayfirst.notna() & (monthfirst != dayfirst)).to_numpy()
    if differ.any():
        row = int(np.flatnonzero(differ)[0])
        raise InputError(
            f"{path}: timestamp column '{column}' line {file_line(frame, row)}: "
            f"{shown_cell(text.iloc[row])} reads as another date day first than month first; "
            "give dates as YYYY-MM-DD"
        )
    if monthfirst.isna().any():
        row = int(np.flatnonzero(monthfirst.isna().to_numpy())[0])
        raise InputError(
            f"{path}: timestamp column '{column}' line {file_line(frame, row)} is not a time: "
            f"{shown_cell(text.iloc[row])}"
        )
    return monthfirst


def timestamp_seconds(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """A timestamp column as seconds: numbers as they are, dates since the epoch.

    Parameters
    ----------
    frame
        The table read (:func:`read_table`).
    column
        The timestamp column's name.
    path
        The file, for the message.

    Returns
    -------
    numpy.ndarray
        One float64 per row: the numbers where at least half the cells are numbers, else the
        dates as seconds since 1970-01-01 UTC (:func:`date_column`).

    Raises
    ------
    InputError
        If a cell of a column of numbers is not a finite number, or a column of dates is
        refused (:func:`date_column`), naming the line.
    """
    text = frame[column].str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    if np.isfinite(numbers).mean() >= 0.5:
        bad = np.flatnonzero(~np.isfinite(numbers))
        if bad.size:
            row = int(bad[0])
            raise InputError(
                f"{path}: timestamp column '{column}' line {file_line(frame, row)} is not a "
                f"finite number: {shown_cell(text.iloc[row])}"
            )
        return numbers
    dates = date_column(text, column, frame, path)
    return (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()


#: The largest share of rows that may repeat an earlier row's time (of rows with equal
#: timestamps the first is kept): a clock set back, not a file of several series.
MAX_REPEATED_SHARE = 0.01


def check_repeats(seconds: np.ndarray, column: str, frame: pd.DataFrame, path: Path) -> None:
    """Refuse a file where many rows repeat an earlier row's timestamp.

    Parameters
    ----------
    seconds
        The timestamp column as seconds (:func:`timestamp_seconds`).
    column
        Its name, for the message.
    frame
        The table read, for its line numbers and cells.
    path
        The file, for the message.

    Raises
    ------
    InputError
        If more than one row and more than :data:`MAX_REPEATED_SHARE` of them repeat an
        earlier timestamp (they would be dropped, and such a file holds several series: hosts
        one after the other, or a date without its time), naming the first repeating line.
    """
    repeated = pd.Series(seconds).duplicated().to_numpy()
    if repeated.sum() > max(1.0, MAX_REPEATED_SHARE * len(seconds)):
        row = int(np.flatnonzero(repeated)[0])
        raise InputError(
            f"{path}: {int(repeated.sum())} of {len(seconds)} rows repeat an earlier row's "
            f"timestamp (the first at line {file_line(frame, row)}: "
            f"{shown_cell(frame[column].iloc[row].strip())}); a file holds one series, a row "
            "per time: give each host its own file, join date and time into one column, or "
            "give times in UTC (a clock set back repeats them) as finely as the rows come"
        )


TIMESTAMP_NAMES = ("timestamp", "time", "date", "datetime")
#: Column names that read as anomaly labels: never taken as metrics without being asked for.
LABEL_NAMES = ("label", "labels", "anomaly", "is_anomaly", "attack")


class CsvSource(FileSource):
    """Metric columns of CSV files, with optional timestamp and label columns.

    Parameters
    ----------
    config
        Path (a file, or a folder whose ``*.csv`` files are the entities), the metric columns
        (default: every column but the timestamp and label that is at least half numbers; one
        with a cell that is not a number is then an error, and so is one named like labels,
        :data:`LABEL_NAMES`, unless it is the label column), the timestamp column
        (default: a column named timestamp, time, date or datetime, if there is one), the
        delimiter (default: detected) and metric families by column name. Rows are put in
        timestamp order; of rows with equal timestamps the first is kept, and a file where
        more than 1 % of the rows, and more than one, repeat a timestamp is refused.
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
        """Read one entity's file.

        Parameters
        ----------
        entity
            The entity: the file's stem.
        slice_name
            Not used.

        Returns
        -------
        EntityData
            The metric columns, with labels and timestamps where there are such columns, in
            timestamp order (of rows with equal timestamps the first is kept); no published
            test part.

        Raises
        ------
        InputError
            If the entity is unknown, the file is not a readable table, a configured column is
            missing, the timestamp or label column is among ``columns``, a default metric
            column reads as labels, there is no metric column, ``column_groups`` names a
            column that is not a metric, or a cell of a metric, label or timestamp column is
            not valid.
        """
        path = self.entity_file(entity)
        frame = read_table(path, self.csv.delimiter, unnamed_allowed=self.csv.columns is not None)
        timestamp_column = self.csv.timestamp_column or next(
            (c for c in frame.columns if c.lower() in TIMESTAMP_NAMES), None
        )
        special = [c for c in (timestamp_column, self.csv.label_column) if c]
        require_columns(frame, special, path, "timestamp or label")
        if self.csv.columns is not None:
            require_columns(frame, self.csv.columns, path, "metric")
            if both := [c for c in special if c in self.csv.columns]:
                raise InputError(
                    f"{path}: column '{both[0]}' is the timestamp or label column; leave it out "
                    "of columns (a label among the metrics would hand the model the answers)"
                )
            columns, hint = list(self.csv.columns), ""
        else:
            columns = [
                c for c in frame.columns
                if c not in special and numeric_share(frame, c) >= MOSTLY_NUMERIC
            ]  # fmt: skip
            if labels_like := [c for c in columns if c.lower() in LABEL_NAMES]:
                raise InputError(
                    f"{path}: column '{labels_like[0]}' reads as anomaly labels; set "
                    f"label_column: {labels_like[0]} to use it as labels, or give the metric "
                    "columns with 'columns' (a label among the metrics would hand the model "
                    "the answers)"
                )
            hint = "; give the metric columns with 'columns' to leave this one out"
        if not columns:
            raise InputError(f"{path}: no numeric metric columns to read")
        grouped = [name for names in self.csv.column_groups.values() for name in names]
        require_columns(frame, grouped, path, "grouped")
        if outside := [name for name in grouped if name not in columns]:
            raise InputError(
                f"{path}: column_groups names '{outside[0]}', which is not a metric column "
                f"(metrics: {', '.join(columns)})"
            )
        metrics = self.metric_specs(columns)
        values = np.column_stack([numeric_column(frame, c, path, hint) for c in columns])
        labels = None
        if self.csv.label_column:
            labels = label_column(frame, self.csv.label_column, path)
        timestamps = None
        if timestamp_column:
            timestamps = timestamp_seconds(frame, timestamp_column, path)
            check_repeats(timestamps, timestamp_column, frame, path)
        checked = checked_values(values, metrics, str(path), lines=lambda: frame_lines(frame))
        return EntityData(entity, time_ordered(MetricSeries(checked, metrics, labels, timestamps)))
