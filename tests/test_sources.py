"""Loaders on the real files of ../shared/datasets, and their error paths."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedanomaly.config import parse_source
from fedanomaly.data.metrics import Family, Role
from fedanomaly.data.sources import open_source
from fedanomaly.data.sources.pickle_layout import load_array_pickle
from fedanomaly.data.sources.smd import SMD_METRICS
from fedanomaly.errors import InputError


def source(text: str):
    return open_source(parse_source(text), seed=0)


def test_smd_pickles(smd_dir):
    smd = source(f"smd:{smd_dir}")
    names = smd.entities()
    assert len(names) == 19 and names[:2] == ["machine-1-2", "machine-1-3"]
    assert names[-1] == "machine-3-10"  # natural order, 3-10 after 3-5
    data = smd.load("machine-1-6", "group-1")
    assert data.series.values.shape[1] == 38 and data.series.metrics == SMD_METRICS
    assert data.test is not None and data.test.labels is not None
    assert len(data.test.labels) == len(data.test)
    # machine-1-6 is the most anomalous machine of the published set (about 15.7 % of test rows).
    assert 0.14 < data.test.labels.mean() < 0.17
    assert set(smd.default_layout()) == {"group-1", "group-2", "group-3"}


def test_smd_text_layout_reads_the_same_numbers(smd_dir, tmp_path):
    """Write the real pickles in the plain-text layout and read them back through it."""
    entity = "machine-2-1"
    for part in ("train", "test", "test_label"):
        (tmp_path / part).mkdir()
        array = load_array_pickle(smd_dir / f"{entity}_{part}.pkl")
        fmt = "%d" if part == "test_label" else "%.10g"
        np.savetxt(tmp_path / part / f"{entity}.txt", array, delimiter=",", fmt=fmt)
    text = source(f"smd:{tmp_path}")
    pickled = source(f"smd:{smd_dir}").load(entity, "g")
    loaded = text.load(entity, "g")
    assert text.entities() == [entity]
    np.testing.assert_allclose(loaded.series.values, pickled.series.values, rtol=1e-6)
    np.testing.assert_array_equal(loaded.test.labels, pickled.test.labels)


def test_generic_pickle_layout_with_column_groups(smd_dir, tmp_path):
    for part in ("train", "test"):
        (tmp_path / f"box_{part}.pkl").write_bytes(
            (smd_dir / f"machine-1-2_{part}.pkl").read_bytes()
        )
    config = parse_source(f"pickle:{tmp_path}")
    config.column_groups = {Family.CPU: [0, 1], Family.NETWORK: [18]}
    data = open_source(config, 0).load("box", "s")
    families = [m.family for m in data.series.metrics]
    assert families[:3] == [Family.CPU, Family.CPU, Family.OTHER] and families[18] == Family.NETWORK
    assert data.test is not None and data.test.labels is None


class Exploit:
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/fedanomaly-pwned"),))


def test_restricted_unpickler_refuses_code(tmp_path):
    target = Path("/tmp/fedanomaly-pwned")
    target.unlink(missing_ok=True)
    (tmp_path / "evil_train.pkl").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(
        InputError, match=r"evil_train.pkl: not a numpy-array pickle .*refused global"
    ):
        source(f"pickle:{tmp_path}").load("evil", "s")
    assert not target.exists()


def test_pickle_of_something_else_is_refused(tmp_path):
    (tmp_path / "odd_train.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InputError, match=r"odd_train.pkl: holds a dict, not a numpy array"):
        source(f"pickle:{tmp_path}").load("odd", "s")


def test_bitbrains_maps_columns_to_families(bitbrains_dir):
    bitbrains = source(f"bitbrains:{bitbrains_dir}")
    names = bitbrains.entities()
    assert len(names) == 100 and names[:3] == ["1", "2", "3"]
    data = bitbrains.load("14", "s")
    lines = (bitbrains_dir / "14.csv").read_text().strip().splitlines()
    assert data.series.values.shape == (len({line.split(";")[0] for line in lines[1:]}), 10)
    by_name = {m.name: m for m in data.series.metrics}
    assert by_name["CPU usage [%]"].family == Family.CPU and by_name["CPU usage [%]"].lower == 0
    assert by_name["Memory usage [KB]"].family == Family.MEMORY
    assert by_name["Disk write throughput [KB/s]"].family == Family.DISK
    assert by_name["Network received throughput [KB/s]"].role == Role.THROUGHPUT
    assert by_name["CPU cores"].role == Role.CAPACITY
    first = lines[1].split(";")
    assert data.series.timestamps[0] == float(first[0])
    assert data.series.values[0, 3] == pytest.approx(float(first[4]))


def test_every_bitbrains_vm_loads(bitbrains_dir):
    bitbrains = source(f"bitbrains:{bitbrains_dir}")
    series = [bitbrains.load(name, "s").series for name in bitbrains.entities()]
    assert min(len(s) for s in series) >= 400 and max(len(s) for s in series) > 10_000
    assert all(np.all(np.diff(s.timestamps) > 0) for s in series)


def test_csv_file_with_timestamp_and_column_selection(azure_csv):
    csv = source(f"csv:{azure_csv}?timestamp_column=timestamp&columns=cpu_usage")
    data = csv.load(csv.entities()[0], "s")
    assert data.series.values.shape[1] == 1 and data.series.metrics[0].name == "cpu_usage"
    assert np.all(np.diff(data.series.timestamps) > 0)


def test_csv_takes_every_numeric_column_by_default(alibaba_csv):
    data = source(f"csv:{alibaba_csv}").load(alibaba_csv.stem, "s")
    assert [m.name for m in data.series.metrics] == [
        "cpu_util_percent", "mem_util_percent", "net_in", "net_out", "disk_io_percent"
    ]  # fmt: skip


def test_csv_skips_text_columns_and_finds_the_timestamp(tmp_path, azure_csv):
    (tmp_path / "x.csv").write_text(
        "host,time,cpu,state\nh1,120,1,ok\nh1,60,2,3\nh1,60,9,ok\nh1,180,3,ok\n"
    )  # state: one number in four cells, a text column
    data = source(f"csv:{tmp_path / 'x.csv'}").load("x", "s")
    assert [m.name for m in data.series.metrics] == ["cpu"]
    np.testing.assert_array_equal(data.series.timestamps, [60, 120, 180])  # sorted, repeat dropped
    np.testing.assert_array_equal(data.series.values[:, 0], [2, 1, 3])
    azure = source(f"csv:{azure_csv}").load(azure_csv.stem, "s")
    assert "timestamp" not in [m.name for m in azure.series.metrics]


def test_extra_field_in_a_row_is_not_taken_as_an_index(tmp_path):
    (tmp_path / "x.csv").write_text("cpu,mem\n1,2\n3,4,5\n")
    with pytest.raises(InputError, match=r"x.csv: not a readable CSV table"):
        source(f"csv:{tmp_path / 'x.csv'}").load("x", "s")


def test_protocol_5_pickles_load(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(4, 3)
    (tmp_path / "m_train.pkl").write_bytes(pickle.dumps(array, protocol=5))
    loaded = source(f"pickle:{tmp_path}").load("m", "s").series.values
    np.testing.assert_array_equal(loaded, array)


def test_column_groups_beyond_the_columns_are_refused(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(4, 3)
    (tmp_path / "m_train.pkl").write_bytes(pickle.dumps(array))
    with pytest.raises(InputError, match=r"column_groups names column 3, but the data have 3 "):
        source(f"pickle:{tmp_path}?column_groups=cpu:0|3").load("m", "s")


def test_empty_pickle_folder_is_named(tmp_path):
    with pytest.raises(InputError, match=r"no <entity>_train.pkl files in this folder"):
        source(f"pickle:{tmp_path}")


def test_bitbrains_repeated_rows_are_dropped(bitbrains_dir):
    data = source(f"bitbrains:{bitbrains_dir}").load("20", "s")
    lines = (bitbrains_dir / "20.csv").read_text().strip().splitlines()[1:]
    stamps = {line.split(";")[0] for line in lines}
    assert len(data.series) == len(stamps) < len(lines)
    assert np.all(np.diff(data.series.timestamps) > 0)


def test_bitbrains_row_without_a_timestamp_names_its_line(bitbrains_dir, tmp_path):
    lines = (bitbrains_dir / "2.csv").read_text().splitlines(keepends=True)
    lines[10] = ";" + lines[10].split(";", 1)[1]  # line 11 without its timestamp
    (tmp_path / "2.csv").write_text("".join(lines))
    with pytest.raises(InputError, match=r"2.csv: timestamp column 'Timestamp \[ms\]' line 11 "):
        source(f"bitbrains:{tmp_path}").load("2", "s")


def test_csv_folder_label_column_and_dates(tmp_path):
    (tmp_path / "b.csv").write_text(
        "time,cpu,mem,anomaly\n2024-01-01 00:00,1,2,0\n2024-01-01 00:01,3,4,1\n"
    )
    (tmp_path / "a.csv").write_text("time,cpu,mem,anomaly\n2024-01-01 00:00,1,2,0\n")
    csv = source(f"csv:{tmp_path}?timestamp_column=time&label_column=anomaly")
    assert csv.entities() == ["a", "b"]
    data = csv.load("b", "s")
    np.testing.assert_array_equal(data.series.labels, [0, 1])
    np.testing.assert_array_equal(np.diff(data.series.timestamps), [60.0])
    np.testing.assert_array_equal(data.series.values, [[1, 2], [3, 4]])


def test_csv_dates_day_first_are_read_day_first(tmp_path):
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    rows = "".join(f"{day:%d/%m/%Y},{i}\n" for i, day in enumerate(days))
    (tmp_path / "x.csv").write_text("date,cpu\n" + rows)
    data = source(f"csv:{tmp_path / 'x.csv'}").load("x", "s")
    np.testing.assert_array_equal(data.series.values[:, 0], np.arange(40))  # order kept
    np.testing.assert_array_equal(np.diff(data.series.timestamps), 86400.0)


def test_csv_dates_each_read_alone_raise_no_pandas_warning(tmp_path):
    """pandas warns when it cannot infer one format; the user sees the data, not the warning."""
    hours = pd.date_range("2024-01-01", periods=30, freq="h")
    rows = "".join(f"{hour:%b %d %Y %I:%M %p},{i}\n" for i, hour in enumerate(hours))
    (tmp_path / "x.csv").write_text("time,cpu\n" + rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = source(f"csv:{tmp_path / 'x.csv'}").load("x", "s")
    np.testing.assert_array_equal(np.diff(data.series.timestamps), 3600.0)


def test_csv_rows_that_repeat_a_timestamp(tmp_path):
    """A clock set back once loses its repeated row; a file of two hosts one after the other,
    or of dates without their times, is refused rather than cut to its first rows."""
    times = [f"2024-01-01 {h:02d}:{m:02d}" for h in range(5) for m in range(60)]  # 300 rows
    once = [*times[:150], times[149], *times[150:]]
    (tmp_path / "once.csv").write_text(
        "time,cpu\n" + "".join(f"{s},{i}\n" for i, s in enumerate(once))
    )
    data = source(f"csv:{tmp_path / 'once.csv'}").load("once", "s")
    assert len(data.series) == 300 and data.series.values[150, 0] == 151  # the first kept
    hosts = "".join(f"{s},{h},{i}\n" for i, s in enumerate(times) for h in ("web", "db"))
    (tmp_path / "long.csv").write_text("time,host,cpu\n" + hosts)
    with pytest.raises(
        InputError,
        match=r"long.csv: 300 of 600 rows repeat an earlier row's timestamp \(the first at line "
        r"3: '2024-01-01 00:00'\); a file holds one series, a row per time: give each host its "
        r"own file, join date and time into one column, or give times in UTC",
    ):
        source(f"csv:{tmp_path / 'long.csv'}").load("long", "s")


@pytest.mark.parametrize(
    ("rows", "line", "cell"),
    [
        ("01/02/2024,1\n03/02/2024,2\n", 2, "01/02/2024"),  # no day above 12: either way
        ("2024-01-05,1\n13/01/2024,2\n02/01/2024,3\n", 4, "02/01/2024"),  # cell by cell
    ],
)
def test_csv_dates_that_read_both_ways_are_refused(tmp_path, rows, line, cell):
    (tmp_path / "x.csv").write_text("date,cpu\n" + rows)
    with pytest.raises(
        InputError,
        match=rf"x.csv: timestamp column 'date' line {line}: '{cell}' reads as another date day "
        r"first than month first; give dates as YYYY-MM-DD",
    ):
        source(f"csv:{tmp_path / 'x.csv'}").load("x", "s")


def test_csv_dates_in_more_than_one_format(tmp_path):
    (tmp_path / "x.csv").write_text(
        "time,cpu\n2024-01-01 00:00,1\n2024-01-01T00:01:00Z,2\n01 Jan 2024 00:02,3\n"
    )
    data = source(f"csv:{tmp_path / 'x.csv'}").load("x", "s")
    start = pd.Timestamp("2024-01-01", tz="UTC").timestamp()
    np.testing.assert_array_equal(data.series.timestamps, [start, start + 60, start + 120])


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        ("a,b\n1,2\n3,x\n", "?columns=a,b", r"x.csv: column 'b' is not numeric \(line 3: 'x'\)"),
        ("a,b\n1,2\n3,nan\n", "", r"x.csv: NaN value in column 'b' at line 3"),
        # blank lines, which pandas skips, still count in the line named
        ("a,b\n1,2\n\n3,4\n\n5,x\n", "?columns=a,b", r"column 'b' is not numeric \(line 6: 'x'\)"),
        ("a,b\n1,2\n\n3,4\n\n5,\n", "", r"x.csv: NaN value in column 'b' at line 6"),
        ("a,b\n1,2\n3,inf\n", "", r"x.csv: inf value in column 'b' at line 3"),
        ("a,b\n1,2\n3,\n", "", r"x.csv: NaN value in column 'b' at line 3"),
        ("a,b\nx,y\n", "", r"x.csv: no numeric metric columns to read"),
        (
            "a,b\n1,2\n3,err\n4,5\n",
            "",
            r"x.csv: column 'b' is not numeric \(line 3: 'err'\); give the metric columns with",
        ),
        (  # one empty cell in a column of numbers is named, not the first number
            "timestamp,a\n60,1\n,2\n180,3\n",
            "",
            r"x.csv: timestamp column 'timestamp' line 3 is not a finite number: an empty or "
            "NaN cell",
        ),
        (
            "timestamp,a\n60,1\ninf,2\n180,3\n",
            "",
            r"x.csv: timestamp column 'timestamp' line 3 is not a finite number: 'inf'",
        ),
        (
            "time,a\n2024-01-01 00:00,1\nsoon,2\n",
            "",
            r"x.csv: timestamp column 'time' line 3 is not a time: 'soon'",
        ),
        ("a,b\n", "", r"x.csv: the table has no rows"),
        ("", "", r"x.csv: not a readable CSV table"),
        ("a,b\n1,2\n", "?columns=c", r"x.csv: no metric column 'c' \(columns: a, b\)"),
        ("a,b\n1,2\n", "?label_column=y", r"x.csv: no timestamp or label column 'y'"),
        (
            "t,a,y\n1,2,0\n2,3,\n",
            "?label_column=y",
            r"x.csv: label column 'y' line 3: expected 0 or 1, got an empty or NaN cell",
        ),
        ("t,a,y\n1,2,0\n2,3,7\n", "?label_column=y", r"line 3: expected 0 or 1, got '7'"),
        (
            "a,b\n1,2\n",
            "?columns=a&column_groups=cpu:a;memory:b",
            r"x.csv: column_groups names 'b', which is not a metric column \(metrics: a\)",
        ),
        (
            "t,a,y\n1,2,0\n",
            "?label_column=y&columns=a,y",
            r"x.csv: column 'y' is the timestamp or label column; leave it out of columns",
        ),
        (  # pandas would read the second as a metric 'cpu.1'
            "timestamp,cpu,cpu\n1,2,3\n",
            "",
            r"x.csv: line 1: column 3 repeats the name 'cpu' of column 2",
        ),
        (  # ... and this one as 'Unnamed: 1'
            "timestamp,,mem\n1,2,3\n",
            "",
            r"x.csv: line 1: column 2 has no name \(name it, or give the metric columns",
        ),
        (  # a column named like labels is not taken as a metric unasked
            "timestamp,cpu,Label\n1,2,0\n",
            "",
            r"x.csv: column 'Label' reads as anomaly labels; set label_column: Label to use",
        ),
    ],
)
def test_csv_errors_name_the_file(tmp_path, content, options, message):
    path = tmp_path / "x.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        source(f"csv:{path}{options}").load("x", "s")


def test_csv_column_without_a_name_is_left_alone_where_the_metrics_are_named(tmp_path):
    """A pandas index written by to_csv: refused by default, unread with 'columns'."""
    path = tmp_path / "x.csv"
    path.write_text(",timestamp,cpu\n0,60,1.5\n1,120,2.5\n")
    data = source(f"csv:{path}?columns=cpu").load("x", "s")
    assert [m.name for m in data.series.metrics] == ["cpu"]
    assert data.series.values[:, 0].tolist() == [1.5, 2.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("smd:/no/such/dir", r"/no/such/dir: no such file or folder \(data source 'smd'\)"),
        ("smd", r"data source 'smd' needs a path: give it as smd:PATH \(simulate's --data"),
        ("bitbrains:/no/where", r"/no/where: no such file or folder"),
    ],
)
def test_missing_paths(text, message):
    with pytest.raises(InputError, match=message):
        source(text)


def test_unknown_entity_lists_the_known_ones(smd_dir):
    with pytest.raises(InputError, match=r"no entity 'machine-9-9' in smd data \(has machine-1-2"):
        source(f"smd:{smd_dir}").load("machine-9-9", "s")


def test_folder_without_smd_files(tmp_path):
    with pytest.raises(InputError, match=r"no SMD data here"):
        source(f"smd:{tmp_path}")


def test_wrong_shape_in_a_pickle(tmp_path):
    (tmp_path / "m_train.pkl").write_bytes(pickle.dumps(np.zeros((4, 3, 2))))
    with pytest.raises(InputError, match=r"m_train.pkl: expected a 2-D array"):
        source(f"pickle:{tmp_path}").load("m", "s")


def test_label_count_must_match(tmp_path):
    (tmp_path / "m_train.pkl").write_bytes(pickle.dumps(np.zeros((5, 2))))
    (tmp_path / "m_test.pkl").write_bytes(pickle.dumps(np.zeros((5, 2))))
    (tmp_path / "m_test_label.pkl").write_bytes(pickle.dumps(np.zeros(4)))
    with pytest.raises(InputError, match=r"m_test_label.pkl: 4 labels for 5 test steps"):
        source(f"pickle:{tmp_path}").load("m", "s")
