"""``bitbrains``: GWA-T-12 VM traces (one ``;``-separated CSV per VM, header with units).

The columns map onto the metric families: CPU cores, capacity and usage; memory capacity and
usage; disk read and write throughput; network received and transmitted throughput. The
``Timestamp [ms]`` column holds Unix seconds despite its unit and becomes the timestamps; rows
are put in timestamp order and repeated rows (same timestamp) are dropped.
"""

from __future__ import annotations

import numpy as np

from fedanomaly.config.schema import BitbrainsConfig, CsvConfig
from fedanomaly.data.metrics import Family, MetricSpec, Role
from fedanomaly.data.series import EntityData, MetricSeries, checked_values, time_ordered
from fedanomaly.data.sources.csv_table import (
    CsvSource,
    file_line,
    frame_lines,
    numeric_column,
    read_table,
    require_columns,
)
from fedanomaly.errors import InputError

TIMESTAMP_COLUMN = "Timestamp [ms]"
BITBRAINS_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("CPU cores", Family.CPU, Role.CAPACITY),
    MetricSpec("CPU capacity provisioned [MHZ]", Family.CPU, Role.CAPACITY),
    MetricSpec("CPU usage [MHZ]", Family.CPU, Role.USAGE),
    MetricSpec("CPU usage [%]", Family.CPU, Role.USAGE),  # exceeds 100 at times in the traces
    MetricSpec("Memory capacity provisioned [KB]", Family.MEMORY, Role.CAPACITY),
    MetricSpec("Memory usage [KB]", Family.MEMORY, Role.USAGE),
    MetricSpec("Disk read throughput [KB/s]", Family.DISK, Role.THROUGHPUT),
    MetricSpec("Disk write throughput [KB/s]", Family.DISK, Role.THROUGHPUT),
    MetricSpec("Network received throughput [KB/s]", Family.NETWORK, Role.THROUGHPUT),
    MetricSpec("Network transmitted throughput [KB/s]", Family.NETWORK, Role.THROUGHPUT),
)


class BitbrainsSource(CsvSource):
    """The VMs of a Bitbrains folder (``rnd/2013-7``), named by file stem (``1`` ... ``100``)."""

    type_name = "bitbrains"

    def __init__(self, config: BitbrainsConfig) -> None:
        super().__init__(CsvConfig(path=config.path, delimiter=";"))

    def load(self, entity: str, slice_name: str) -> EntityData:
        """Read one VM's trace.

        Parameters
        ----------
        entity
            The VM: a file stem of the folder.
        slice_name
            Not used.

        Returns
        -------
        EntityData
            The :data:`BITBRAINS_METRICS` and the timestamps, in timestamp order (of rows with
            equal timestamps the first is kept); no labels and no published test part.

        Raises
        ------
        InputError
            If the VM is not in the folder, the file is not a readable table, a column is
            missing, a cell is not a number, or a timestamp or value is not finite.
        """
        path = self.entity_file(entity)
        frame = read_table(path, ";")
        columns = [TIMESTAMP_COLUMN] + [m.name for m in BITBRAINS_METRICS]
        require_columns(frame, columns, path, "Bitbrains")
        values = np.column_stack([numeric_column(frame, m.name, path) for m in BITBRAINS_METRICS])
        timestamps = numeric_column(frame, TIMESTAMP_COLUMN, path)
        if not np.isfinite(timestamps).all():
            row = int(np.flatnonzero(~np.isfinite(timestamps))[0])
            raise InputError(
                f"{path}: timestamp column '{TIMESTAMP_COLUMN}' line {file_line(frame, row)} "
                "is not a time"
            )
        checked = checked_values(
            values, BITBRAINS_METRICS, str(path), lines=lambda: frame_lines(frame)
        )
        series = MetricSeries(checked, BITBRAINS_METRICS, timestamps=timestamps)
        return EntityData(entity, time_ordered(series))
