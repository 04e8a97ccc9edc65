"""From topology to monitor data: entity assignment, split partitions, errors naming monitors."""

from __future__ import annotations

import numpy as np
import pytest

from fedanomaly.config import parse_source, resolve_topology
from fedanomaly.data.injection import TYPE_CODES
from fedanomaly.data.pipeline import prepare_monitors
from fedanomaly.errors import InputError
from tests.conftest import TOPOLOGIES


def test_paper_topology_data_per_monitor():
    monitors = prepare_monitors(resolve_topology(TOPOLOGIES / "paper.yaml"))
    assert [m.name for m in monitors][:3] == ["vm-1-1", "vm-1-2", "vm-1-3"]
    windows = monitors[0].windows("train", 32, 4)
    assert windows.shape == ((24192 - 32) // 4 + 1, 32, 26) and windows.dtype == np.float32
    assert windows.min() >= 0.0 and windows.max() <= 1.0


def test_monitor_with_two_vms_holds_both():
    monitors = prepare_monitors(resolve_topology(TOPOLOGIES / "small.yaml"))
    core = next(m for m in monitors if m.name == "core-monitor-1")
    assert [vm.name for vm in core.vms] == ["upf-1", "upf-2"]
    single = core.vms[0].train.scaled.shape[0]
    assert core.windows("train", 32, 4).shape[0] == 2 * ((single - 32) // 4 + 1)


def test_steps_beyond_the_training_range_follow_the_vms_order():
    monitors = prepare_monitors(resolve_topology(TOPOLOGIES / "small.yaml"))
    core = next(m for m in monitors if m.name == "core-monitor-1")
    expected = []
    for vm in core.vms:  # from the values in source units: outside the train part's range
        low, high = vm.train.raw.min(axis=0), vm.train.raw.max(axis=0)
        expected.append(((vm.test.raw < low) | (vm.test.raw > high)).any(axis=1))
    flags = core.beyond_train_range("test")
    np.testing.assert_array_equal(flags, np.concatenate(expected))
    assert 0 < flags.sum() < len(flags)  # some steps of the generated week, not all
    assert not core.beyond_train_range("train").any()


def test_source_layout_one_monitor_per_smd_machine(smd_dir):
    topology = resolve_topology(source=parse_source(f"smd:{smd_dir}"))
    assert [s.name for s in topology.slices] == ["group-1", "group-2", "group-3"]
    assert len(topology.monitors) == 19
    assert topology.slices[0].monitors[0].vms == ["machine-1-2"]


def test_entities_are_assigned_in_order(bitbrains_dir):
    topology = resolve_topology(
        source=parse_source(f"bitbrains:{bitbrains_dir}"), slices=2, monitors=3
    )
    monitors = prepare_monitors(topology)
    assert [m.vms[0].name for m in monitors] == ["1", "2", "3"]


def test_more_monitors_than_entities_is_an_error(azure_csv):
    topology = resolve_topology(source=parse_source(f"csv:{azure_csv}"), slices=1, monitors=2)
    with pytest.raises(InputError, match=r"slices\[0\].monitors\[1\] \(vm-1-2\): no VM left"):
        prepare_monitors(topology)


def test_split_partition_cuts_one_series_into_contiguous_shares(alibaba_csv):
    source = parse_source(f"csv:{alibaba_csv}")
    topology = resolve_topology(
        source=source, slices=2, monitors=4, settings={"data.partition": "split"}
    )
    monitors = prepare_monitors(topology)
    whole = np.loadtxt(alibaba_csv, delimiter=",", skiprows=1)
    train = [m.vms[0].train.raw for m in monitors]
    share = len(whole) // 4
    np.testing.assert_array_equal(train[1][0], whole[share])
    assert sum(
        len(m.vms[0].train) + len(m.vms[0].validation) + len(m.vms[0].test) for m in monitors
    ) == len(whole)


def test_unknown_vm_names_the_monitor(tmp_path, smd_dir):
    path = tmp_path / "t.yaml"
    path.write_text(
        f"data: {{source: {{type: smd, path: {smd_dir}}}}}\n"
        "slices: [{name: g, monitors: [{name: m1, vms: [machine-7-7]}]}]\n"
    )
    with pytest.raises(
        InputError,
        match=rf"^{path}: slices\[0\].monitors\[0\] \(m1\): VM 'machine-7-7' is not in smd:",
    ):
        prepare_monitors(resolve_topology(path))


def test_a_vm_the_replacing_source_lacks_names_the_file_and_that_source(azure_csv):
    """small.yaml names its own VMs; a CSV given in place of its source has none of them."""
    topology = resolve_topology(TOPOLOGIES / "small.yaml", source=parse_source(f"csv:{azure_csv}"))
    with pytest.raises(InputError) as refused:
        prepare_monitors(topology)
    assert str(refused.value).startswith(
        f"{TOPOLOGIES / 'small.yaml'} with data source csv:{azure_csv}: slices[1].monitors[0] "
        "(core-monitor-1): VM 'upf-1' is not in csv:"
    )


def test_named_vms_are_set_aside_before_unnamed_monitors_take_theirs(tmp_path, smd_dir):
    path = tmp_path / "t.yaml"
    path.write_text(
        f"data: {{source: {{type: smd, path: {smd_dir}}}}}\n"
        "slices: [{name: g, monitors: [{name: a}, {name: b, vms: [machine-1-2]}]}]\n"
    )
    assert {
        m.name: [vm.name for vm in m.vms] for m in prepare_monitors(resolve_topology(path))
    } == {
        "a": ["machine-1-3"],  # the first machine no monitor names
        "b": ["machine-1-2"],
    }


def test_a_generated_vm_named_after_another_monitor_is_held_by_it(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("slices: [{name: g, monitors: [{name: a}, {name: b, vms: [a]}]}]\n")
    with pytest.raises(InputError, match=r"\(b\): VM 'a' is already held by monitor a"):
        prepare_monitors(resolve_topology(path))


def test_vm_held_twice_is_an_error(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("slices: [{name: g, monitors: [{name: a, vms: [x]}, {name: b, vms: [x]}]}]\n")
    with pytest.raises(InputError, match=r"\(b\): VM 'x' is already held by monitor a"):
        prepare_monitors(resolve_topology(path))


def test_window_longer_than_a_part_names_the_monitor():
    topology = resolve_topology(
        slices=1, monitors=1, settings={"data.source.length": 300, "model.window_length": 64}
    )
    with pytest.raises(
        InputError,
        match=r"monitor vm-1-1 \(slice slice-1\): synthetic-vnf entity vm-1-1: the validation part "
        r"has 60 steps, fewer than one window \(model.window_length 64\)",
    ):
        prepare_monitors(topology)


def test_data_errors_name_the_monitor(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n" + "1,2\n" * 100)
    (tmp_path / "b.csv").write_text("x,y\n1,2\n3,nan\n" + "1,2\n" * 100)
    topology = resolve_topology(
        source=parse_source(f"csv:{tmp_path}"), slices=1, monitors=2,
        settings={"model.window_length": 8},
    )  # fmt: skip
    with pytest.raises(
        InputError,
        match=r"monitor vm-1-2 \(slice slice-1\): .*b.csv: NaN value in column 'y' at line 3",
    ):
        prepare_monitors(topology)


def test_monitors_must_share_columns(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n" + "1,2\n" * 100)
    (tmp_path / "b.csv").write_text("x,z\n" + "1,2\n" * 100)
    topology = resolve_topology(
        source=parse_source(f"csv:{tmp_path}"), slices=1, monitors=2,
        settings={"model.window_length": 8},
    )  # fmt: skip
    with pytest.raises(InputError, match=r"monitor vm-1-2, VM b: its 2 metrics differ"):
        prepare_monitors(topology)


def test_same_seed_same_prepared_data():
    first = prepare_monitors(resolve_topology(slices=1, monitors=2, settings={"seed": 3}))
    second = prepare_monitors(resolve_topology(slices=1, monitors=2, settings={"seed": 3}))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.vms[0].test.scaled, b.vms[0].test.scaled)
        np.testing.assert_array_equal(a.vms[0].test.types, b.vms[0].test.types)


def test_vms_of_one_monitor_must_share_columns(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n" + "1,2\n" * 100)
    (tmp_path / "y.csv").write_text("a,b,c\n" + "1,2,3\n" * 100)
    path = tmp_path / "t.yaml"
    path.write_text(
        f"data: {{source: {{type: csv, path: {tmp_path}}}}}\nmodel: {{window_length: 8}}\n"
        "slices: [{name: s, monitors: [{name: m, vms: [x, y]}]}]\n"
    )
    with pytest.raises(InputError, match=r"monitor m, VM y: its 3 metrics differ from the 2"):
        prepare_monitors(resolve_topology(path))


def test_split_partition_without_a_file_uses_the_paper_layout(smd_dir):
    topology = resolve_topology(
        source=parse_source(f"smd:{smd_dir}"), settings={"data.partition": "split"}
    )
    assert [m.name for _, m in topology.monitors][:2] == ["vm-1-1", "vm-1-2"]
    assert all(not m.vms for _, m in topology.monitors)


@pytest.mark.parametrize("labelled_test", [True, False])
def test_only_a_test_part_with_real_anomalies_is_left_uninjected(tmp_path, labelled_test):
    rng = np.random.default_rng(0)
    labels = np.zeros(1000, dtype=int)
    if labelled_test:
        labels[900:920] = 1  # in the test part (the last 20 %)
    values = rng.normal(size=1000)
    rows = [f"{t},{values[t]:.4f},{labels[t]}" for t in range(1000)]
    (tmp_path / "vm.csv").write_text("time,cpu,y\n" + "\n".join(rows) + "\n")
    topology = resolve_topology(source=parse_source(f"csv:{tmp_path / 'vm.csv'}?label_column=y"))
    test = prepare_monitors(topology)[0].vms[0].test
    if labelled_test:
        np.testing.assert_array_equal(test.types != 0, labels[800:] == 1)
        assert set(np.unique(test.types)) == {0, TYPE_CODES["labelled"]}
    else:  # labels that are all 0 leave nothing to find: the test part gets injected faults
        assert test.events and (test.types != 0).mean() == pytest.approx(0.05, abs=0.01)


def test_a_missing_source_file_names_its_yaml_path(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "slices: [{name: g, monitors: [{name: a}, {name: b, source: {type: csv, path: no.csv}}]}]\n"
    )
    with pytest.raises(
        InputError, match=rf"^{path}: slices\[0\].monitors\[1\].source: .*no.csv: no such"
    ):
        prepare_monitors(resolve_topology(path))
