"""``smd``: the Server Machine Dataset (OmniAnomaly), in either published layout.

- processed pickles: ``<machine>_train.pkl``, ``<machine>_test.pkl``, ``<machine>_test_label.pkl``;
- plain text: ``train/<machine>.txt``, ``test/<machine>.txt``, ``test_label/<machine>.txt``
  (comma-separated, one row per minute).

SMD's 38 columns carry no names in the files; the names below are those that accompany the
dataset in public tooling (CPU, load, memory, swap, disk, NIC and TCP/UDP counters), and they
fix each column's family and role for anomaly injection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fedanomaly.config.schema import SmdConfig
from fedanomaly.data.metrics import Family, MetricSpec, Role
from fedanomaly.data.series import EntityData, MetricSeries, checked_values
from fedanomaly.data.sources.base import FileSource, natural_key
from fedanomaly.data.sources.pickle_layout import PickleLayoutSource, read_labels
from fedanomaly.errors import InputError

C, M, D, N = Family.CPU, Family.MEMORY, Family.DISK, Family.NETWORK
U, K, T, L, E = (
    Role.USAGE,
    Role.CAPACITY,
    Role.THROUGHPUT,
    Role.LATENCY,
    Role.ERROR,
)
SMD_METRICS: tuple[MetricSpec, ...] = tuple(
    MetricSpec(name, family, role)
    for name, family, role in (
        ("cpu_r", C, U), ("load_1", C, U), ("load_5", C, U), ("load_15", C, U),
        ("mem_shmem", M, U), ("mem_u", M, U), ("mem_u_e", M, U), ("total_mem", M, K),
        ("disk_q", D, L), ("disk_r", D, T), ("disk_rb", D, T), ("disk_svc", D, L),
        ("disk_u", D, U), ("disk_w", D, T), ("disk_wa", D, L), ("disk_wb", D, T),
        ("si", M, U), ("so", M, U),
        ("eth1_fi", N, T), ("eth1_fo", N, T), ("eth1_pi", N, T), ("eth1_po", N, T),
        ("tcp_tw", N, U), ("tcp_use", N, U), ("active_opens", N, T), ("curr_estab", N, U),
        ("in_errs", N, E), ("in_segs", N, T), ("listen_overflows", N, E), ("out_rsts", N, E),
        ("out_segs", N, T), ("passive_opens", N, T), ("retransegs", N, E),
        ("tcp_timeouts", N, E), ("udp_in_dg", N, T), ("udp_out_dg", N, T),
        ("udp_rcv_buf_errs", N, E), ("udp_snd_buf_errs", N, E),
    )
)  # fmt: skip


def read_text_matrix(path: Path) -> np.ndarray:
    """Read a comma-separated numeric text file."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        return np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as error:
        raise InputError(f"{path}: not a comma-separated numeric table ({error})") from None


class SmdSource(PickleLayoutSource):
    """SMD machines as entities; the slices of the default layout are the machine groups."""

    type_name = "smd"

    def __init__(self, config: SmdConfig) -> None:
        FileSource.__init__(self, config, self.type_name, directory=True)
        self.column_groups = {}
        self.text_layout = (self.path / "train").is_dir()
        if not self.entities():
            raise InputError(
                f"{self.path}: no SMD data here (expected <machine>_train.pkl files, "
                "or train/, test/ and test_label/ folders)"
            )

    def entities(self) -> list[str]:
        if self.text_layout:
            return sorted((p.stem for p in (self.path / "train").glob("*.txt")), key=natural_key)
        return super().entities()

    def metrics(self, count: int) -> tuple[MetricSpec, ...]:
        return SMD_METRICS if count == len(SMD_METRICS) else super().metrics(count)

    def default_layout(self) -> dict[str, list[str]]:
        """One slice per machine group (the digit after ``machine-``)."""
        layout: dict[str, list[str]] = {}
        for name in self.entities():
            group = name.split("-")[1] if name.count("-") >= 2 else "1"
            layout.setdefault(f"group-{group}", []).append(name)
        return layout

    def load(self, entity: str, slice_name: str) -> EntityData:
        """Read one machine, from pickles or from the text layout.

        Parameters
        ----------
        entity
            The machine, e.g. ``machine-1-1``.
        slice_name
            Not used.

        Returns
        -------
        EntityData
            The train series and the published test part (in the pickle layout, where
            ``<machine>_test.pkl`` exists), with its labels where the label file exists; the
            columns are :data:`SMD_METRICS` where there are 38 of them, else unnamed.

        Raises
        ------
        InputError
            If the machine is unknown, a file is missing (in the text layout the test file is
            required) or unreadable, the values are not a non-empty, finite numeric matrix
            with the train part's columns, or the labels do not fit the test part.
        """
        if not self.text_layout:
            return super().load(entity, slice_name)
        if entity not in self.entities():
            raise self.unknown_entity(entity)
        train_file = self.path / "train" / f"{entity}.txt"
        test_file = self.path / "test" / f"{entity}.txt"
        train = read_text_matrix(train_file)
        metrics = self.metrics(train.shape[1])
        series = MetricSeries(checked_values(train, metrics, str(train_file), 1), metrics)
        test = checked_values(read_text_matrix(test_file), metrics, str(test_file), 1)
        label_file = self.path / "test_label" / f"{entity}.txt"
        labels = (
            read_labels(label_file, len(test), read_text_matrix) if label_file.is_file() else None
        )
        return EntityData(entity, series, MetricSeries(test, metrics, labels))
