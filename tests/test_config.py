"""Topology schema, YAML loading, the balanced builder and their error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fedanomaly.config import load_topology, parse_source, resolve_topology
from fedanomaly.config.builder import balanced_slices
from fedanomaly.config.schema import CsvConfig, SmdConfig, SyntheticVnfConfig
from fedanomaly.data.metrics import Family
from fedanomaly.errors import InputError
from fedanomaly.runs.directory import config_text
from tests.conftest import TOPOLOGIES

ONE = "slices: [{name: s, monitors: [{name: m}]}]"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topology.yaml"
    path.write_text(text)
    return path


def test_paper_topology_has_one_controller_three_slices_nine_monitors():
    topology = load_topology(TOPOLOGIES / "paper.yaml")
    assert [s.name for s in topology.slices] == ["slice-1", "slice-2", "slice-3"]
    assert [len(s.monitors) for s in topology.slices] == [3, 3, 3]
    assert topology.controller.name == "controller"
    assert topology.model.iterations == 500 and topology.model.local_iterations == 10
    assert topology.links.slice_controller.bandwidth_mbps == 100


def test_every_example_topology_validates():
    sizes = {p.stem: len(load_topology(p).monitors) for p in TOPOLOGIES.glob("*.yaml")}
    assert sizes["small"] == 4 and sizes["paper"] == 9 and sizes["large"] == 1000


def test_monitor_count_shorthand_names_monitors(tmp_path):
    topology = load_topology(write(tmp_path, "slices: [{name: edge, monitors: 3}]"))
    assert [m.name for _, m in topology.monitors] == ["edge-vm-1", "edge-vm-2", "edge-vm-3"]


@pytest.mark.parametrize(
    ("slices", "monitors", "expected"),
    [(3, 9, [3, 3, 3]), (3, 10, [4, 3, 3]), (4, 7, [2, 2, 2, 1]), (1, 1, [1])],
)
def test_balanced_topology_spreads_monitors_evenly(slices, monitors, expected):
    topology = resolve_topology(slices=slices, monitors=monitors)
    assert [len(s.monitors) for s in topology.slices] == expected
    names = [m.name for _, m in topology.monitors]
    assert len(set(names)) == monitors


def test_balanced_topology_needs_a_monitor_per_slice():
    with pytest.raises(InputError, match=r"--monitors \(2\) must be at least --slices \(3\)"):
        resolve_topology(slices=3, monitors=2)


def test_balanced_topology_bounds_what_it_lays_out():
    # refused before a list of that size is built (10**17 monitors would never return)
    with pytest.raises(InputError, match=r"--monitors: at most 1,000,000, got 100,000,000,000,0"):
        balanced_slices(1, 10**17)
    with pytest.raises(InputError, match=r"at most 100,000 per slice, got 200,002 over 2 slices"):
        balanced_slices(2, 200_002)
    assert len(balanced_slices(2, 200_000)[1]["monitors"]) == 100_000


def test_balanced_topology_keeps_the_file_settings():
    base = load_topology(TOPOLOGIES / "small.yaml")
    topology = resolve_topology(TOPOLOGIES / "small.yaml", 2, 6)
    assert len(topology.monitors) == 6
    assert topology.model == base.model and topology.seed == base.seed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "slices: [{name: s, monitors: [{name: m}]}]\nmodel: {batch_size: -3}",
            r"topology.yaml: model.batch_size: .*greater than 0 \(got -3\)",
        ),
        (
            "slices: [{name: s, monitors: [{name: m}]}]\nmode: orbital",
            r"mode: Input should be 'centralized', 'standalone', 'distributed' or 'federated' "
            r"\(got 'orbital'\)",
        ),
        (
            f"{ONE}\nmodel: {{iterations: 5, local_iterations: 9}}",
            r"model.local_iterations: L=9 is larger than iterations I=5 \(got 9\)",
        ),
        (
            "slices: [{name: s, monitors: [{name: m}, {name: m}]}]",
            r"slices\[0\].monitors\[1\].name 'm' is already used by slices\[0\].monitors\[0\]",
        ),
        (
            "slices: [{name: s, monitors: [{name: m}]}]\ndata: {injection: {types: [meteor]}}",
            r"data.injection.types\[0\]: Input should be 'cpu_endless_loop'.*\(got 'meteor'\)",
        ),
        (
            "slices: [{name: s, monitors: [{name: m}]}]\ndata: {source: {type: tape}}",
            r"data.source: Input tag 'tape' found using 'type' does not match",
        ),
        (
            "slices: [{name: s, monitors: [{name: m}]}]\ndata: {source: {type: csv, colums: [a]}}",
            r"data.source.colums: not a setting of data source 'csv'$",
        ),
        (
            "slices: [{name: s, monitors: [{name: 'bad name'}]}]",
            r"slices\[0\].monitors\[0\].name: a name starts with a letter or digit and holds only "
            r"letters, digits, '_', '.' and '-' \(got 'bad name'\)",
        ),
        (
            f"{ONE}\ndata: {{split: {{train: 0.5, validation: 0.2, test: 0.2}}}}",
            r"data.split: train \+ validation \+ test must be 1, got 0.9",
        ),
        (
            f"{ONE}\nevaluation: {{pot_risk: 0.05, pot_level: 0.98}}",
            r"evaluation: pot_risk 0.05 must be below 1 - pot_level \(0.02\)",
        ),
        (
            f"{ONE}\nevaluation: {{pot_risk: 0.02, pot_level: 0.98}}",
            r"evaluation: pot_risk 0.02 must be below 1 - pot_level \(0.02\)",
        ),
        ("slices: []", r"slices: List should have at least 1 item"),
        (f"{ONE}\nsede: 1", r"topology.yaml: sede: unknown key \(got 1\)$"),
        (
            f"{ONE}\ndevice: gpu",
            r"topology.yaml: device: expected auto, cpu or cuda\[:N\] \(got 'gpu'\)",
        ),
        (
            "controller: {name: a}\nslices: [{name: a, monitors: [{name: m}]}]",
            r"slices\[0\].name 'a' is already used by controller",
        ),
        (
            "slices: [{name: s, monitors: [{name: m, vms: [no]}]}]",
            r"vms\[0\]: Input should be a valid string \(YAML reads yes, no, on and off as "
            r"true/false: quote them if meant as text\) \(got False\)",
        ),
        (  # a list alternative's bad item, not the other alternative, is named
            f"{ONE}\ndata: {{injection: {{splits: [validation, foo]}}}}",
            r"data.injection.splits\[1\]: Input should be 'validation' or 'test' \(got 'foo'\)$",
        ),
        (f"{ONE}\ntrue: 1", r"topology.yaml: 1: Keys should be strings \(got True\)"),
        (
            "slices: [{name: s, monitors: 2, 5: x}]",
            r"topology.yaml: slices\[0\].5: Keys should be strings",
        ),
        (  # a union's alternatives are one problem, each named
            f"{ONE}\nevaluation: {{vus_window: -3}}",
            r"evaluation.vus_window: Input should be 'auto' or greater than 0 \(got -3\)$",
        ),
        (
            "evaluation: {vus_window: x}",
            r"vus_window: Input should be 'auto' or a valid integer.* \[and 1 more problem\]$",
        ),
        (f"{ONE}\nseed: -1", r"seed: Input should be greater than or equal to 0 \(got -1\)"),
        (
            "data: {partition: split}\nslices: [{name: s, monitors: [{name: m, vms: [a]}]}]",
            r"slices\[0\].monitors\[0\] names its own vms or source, which data.partition: split",
        ),
        ("name: x", r"slices: Field required"),
        (
            f"{ONE}\nseed: 1\nseed: 2",
            r"not valid YAML at line 3, column 1: key 'seed' is given twice",
        ),
        (
            f"{ONE}\nseed: true",
            r"topology.yaml: seed: true is not valid here \(YAML reads yes, no, on and off as",
        ),
        (
            f"{ONE}\nmodel: {{iterations: false}}",
            r"topology.yaml: model: iterations: false is not valid here",
        ),
        ("slices: [{name: s, monitors: true}]", r"monitors: expected a count or a list, not true"),
        (
            f"{ONE}\ndata: {{injection: {{splits: []}}}}",
            r"data.injection.splits: name validation, test or both, or write auto$",
        ),
        (
            "slices: [{name: s, monitors: 100001}]",
            r"slices\[0\]: monitors: at most 100,000 per slice, got 100,001",
        ),
        (
            f"{ONE}\nplacement: {{monitors_per_node: 4, slices_per_node: 2}}",
            r"placement: .*set monitors_per_node or slices_per_node, not both",
        ),
    ],
)
def test_schema_errors_name_the_file_yaml_path_and_value(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_topology(write(tmp_path, text))


def test_a_resolved_placement_reloads_as_written(tmp_path):
    """config.yaml spells out every default; a slices_per_node layout must load back."""
    for placement in ("{slices_per_node: 2}", "{}"):
        topology = load_topology(write(tmp_path, f"{ONE}\nplacement: {placement}"))
        dumped = yaml.safe_dump(topology.model_dump(mode="json"))
        assert load_topology(write(tmp_path, dumped)).placement == topology.placement
    assert topology.placement.monitors_per_node == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f"{ONE}\nmodel: {{iterations: 5, iterations: 6}}",
            r"line 2, column 24: key 'iterations' is given twice",
        ),
        ("? [a, b]\n: 1\n", r"line 1, column 3: found an unhashable key"),
        ("slices: [{name: no, monitors: 1}]", r"slices\[0\]: name: false is not valid here"),
    ],
)
def test_yaml_that_only_looks_right_is_refused(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_topology(write(tmp_path, text))


def test_merge_keys_may_restate_a_merged_key(tmp_path):
    text = "slices:\n  - &s {name: a, monitors: 2}\n  - <<: *s\n    name: b\n"
    topology = load_topology(write(tmp_path, text))
    assert [s.name for s in topology.slices] == ["a", "b"]
    assert len(topology.monitors) == 4


def test_a_setting_of_the_default_source_applies_to_a_file_without_one(tmp_path):
    topology = resolve_topology(write(tmp_path, ONE), settings={"data.source.length": 500})
    assert (topology.data.source.type, topology.data.source.length) == ("synthetic-vnf", 500)


def test_broken_yaml_names_line(tmp_path):
    with pytest.raises(InputError, match=r"topology.yaml: not valid YAML at line 2"):
        load_topology(write(tmp_path, "slices:\n\t- name: x\n"))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match=r"nowhere.yaml: no such topology file"):
        load_topology(tmp_path / "nowhere.yaml")


def test_relative_data_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "t.yaml"
    path.write_text("data: {source: {type: smd, path: ../smd}}\nslices: [{name: s, monitors: 1}]")
    assert load_topology(path).data.source.path == tmp_path / "sub" / ".." / "smd"


def test_parse_source_forms():
    assert parse_source("synthetic-vnf") == SyntheticVnfConfig()
    assert parse_source("smd:/data/smd") == SmdConfig(path=Path("/data/smd"))
    csv = parse_source("csv:a.csv?columns=x,y&label_column=z")
    assert csv == CsvConfig(path=Path("a.csv"), columns=["x", "y"], label_column="z")
    assert parse_source("synthetic-vnf?length=50") == SyntheticVnfConfig(length=50)
    grouped = parse_source("csv:a.csv?column_groups=cpu:u|s;memory:m")
    assert grouped.column_groups == {Family.CPU: ["u", "s"], Family.MEMORY: ["m"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tape:/x",
            r"unknown source type 'tape' \(known: synthetic-vnf, smd, pickle, bitbrains, csv\)",
        ),
        (
            "csv:a.csv?colour=red",
            r"data source 'csv:a.csv\?colour=red': colour: not a setting of data source 'csv' ",
        ),
        ("csv:a.csv?=3", r"data source 'csv:a.csv\?=3': an option after '\?' has no name"),
        ("synthetic-vnf:?length=0", r"length: Input should be greater than 0"),
        ("synthetic-vnf?length=100&length=200", r"length is given more than once"),
        ("csv:a.csv?column_groups=cpu", r"column_groups: 'cpu' is not FAMILY:COLUMN\|COLUMN"),
        ("synthetic-vnf?type=smd", r"type is not an option after '\?'; write TYPE:PATH\?"),
        ("csv:a.csv?path=b.csv", r"path is not an option after '\?'"),
    ],
)
def test_parse_source_errors(text, message):
    with pytest.raises(InputError, match=message):
        parse_source(text)


def test_numeric_vm_names_become_strings(tmp_path):
    topology = load_topology(
        write(tmp_path, "slices: [{name: s, monitors: [{name: m, vms: [1, 2]}]}]")
    )
    assert topology.slices[0].monitors[0].vms == ["1", "2"]


def test_command_line_settings_are_named_in_errors():
    with pytest.raises(
        InputError, match=r"^--rate: data.injection.rate: Input should be less than or equal to 0.5"
    ):
        resolve_topology(
            TOPOLOGIES / "small.yaml",
            settings={"data.injection.rate": 0.9},
            flags={"data.injection.rate": "--rate"},
        )


UNLABELLED_CMSF = """
model: {name: cmsf-attae, iterations: 2, local_iterations: 1, slice_iterations: 1,
        generator_iterations: 2}
data: {source: {type: smd, path: ../smd}}
slices:
  - {name: a, monitors: [{name: m1, labelled_anomalies: false}]}
  - {name: b, monitors: 1}
"""


def test_the_command_line_may_mend_what_the_file_alone_fails(tmp_path):
    """A cmsf-attae file whose slice has no labelled monitor fails in its default (federated)
    mode and holds in centralized mode: --mode makes it valid; the file's relative paths are
    still its folder's."""
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "t.yaml"
    path.write_text(UNLABELLED_CMSF)
    with pytest.raises(InputError, match=r"t.yaml: slices\[0\]: no monitor has labelled"):
        load_topology(path)
    mended = resolve_topology(path, settings={"mode": "centralized"}, flags={"mode": "--mode"})
    assert mended.mode == "centralized"
    assert mended.data.source.path == tmp_path / "sub" / ".." / "smd"
    # options that leave the file's own problem as it was are not named as its cause
    for settings, flags in (
        ({"mode": "federated"}, {"mode": "--mode"}),
        (
            {"model.iterations": 10, "seed": 3},
            {"model.iterations": "--iterations", "seed": "--seed"},
        ),
    ):
        with pytest.raises(InputError, match=r"^\S*t.yaml: slices\[0\]: no monitor has"):
            resolve_topology(path, settings=settings, flags=flags)
    # an option that leaves another problem is named with the file
    with pytest.raises(
        InputError, match=r"t.yaml with --mode: slices\[0\].monitors\[0\]: in standalone"
    ):
        resolve_topology(path, settings={"mode": "standalone"}, flags={"mode": "--mode"})


@pytest.mark.parametrize(
    ("text", "settings", "sized", "message"),
    [
        (  # an option breaks a valid file: named with it, and only it
            "model: {local_iterations: 10}\n",
            {"model.iterations": 5, "seed": 3, "payload.models": "float16"},
            False,
            r"t.yaml with --iterations: model.local_iterations: L=10 is larger than iterations",
        ),
        (  # ... also where the sizes or the source come from the command line
            "model: {local_iterations: 10}\n",
            {"model.iterations": 5},
            True,
            r"t.yaml with --iterations: model.local_iterations: L=10 is larger than iterations",
        ),
        (  # an option mends one problem of the file and leaves another, the file's own
            "model: {local_iterations: 10, iterations: 5, batch_size: 0}\n",
            {"model.batch_size": 8},
            False,
            r"t.yaml: model.local_iterations: L=10 is larger than iterations I=5",
        ),
        (  # an option repeats the file's bad value: the option is named
            "model: {batch_size: 0}\n",
            {"model.batch_size": 0},
            False,
            r"^--batch-size: model.batch_size: Input should be greater than 0",
        ),
    ],
)
def test_errors_name_the_options_that_cause_them(tmp_path, text, settings, sized, message):
    path = tmp_path / "t.yaml"
    path.write_text(text + "slices: [{name: s, monitors: 2}]\n")
    names = {"model.iterations": "--iterations", "seed": "--seed", "model.batch_size":
             "--batch-size", "payload.models": "--precision"}  # fmt: skip
    flags = {key: names[key] for key in settings}
    sizes = (1, 2) if sized else (None, None)
    with pytest.raises(InputError, match=message):
        resolve_topology(path, *sizes, settings=settings, flags=flags)


def test_an_empty_topology_file_says_so(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(InputError, match=r"empty.yaml: the file is empty$"):
        resolve_topology(empty)


@pytest.mark.parametrize(
    ("text", "settings", "source", "message"),
    [
        (  # the option sets a key inside a section the file gives as a number
            "data: {injection: 3}\nslices: [{name: s, monitors: 2}]",
            {"data.injection.rate": 0.1},
            None,
            r"t.yaml: data.injection: Input should be a valid dictionary",
        ),
        (  # ... or as null
            "evaluation: null\nslices: [{name: s, monitors: 2}]",
            {"evaluation.threshold": "pot"},
            None,
            r"t.yaml: evaluation: Input should be a valid dictionary",
        ),
        (  # a command-line source over a file whose slice counts its monitors
            "mode: bogus\nslices: [{name: s, monitors: 2}]",
            {"mode": "federated"},
            "synthetic-vnf",
            None,
        ),
    ],
)
def test_a_file_that_fails_alone_and_cannot_take_the_options_names_its_problem(
    tmp_path, text, settings, source, message
):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    chosen = parse_source(source) if source else None
    if message is None:  # the option mends it
        assert resolve_topology(path, source=chosen, settings=settings).mode == "federated"
        return
    with pytest.raises(InputError, match=message):
        resolve_topology(path, source=chosen, settings=settings)


def test_a_file_a_balanced_layout_and_a_source_go_together():
    source = parse_source("synthetic-vnf?length=1440")
    topology = resolve_topology(TOPOLOGIES / "paper.yaml", 1, 2, source)
    assert [monitor.name for _, monitor in topology.monitors] == ["vm-1-1", "vm-1-2"]
    assert topology.data.source.length == 1440 and topology.model.local_iterations == 10


def test_a_bad_option_is_named_before_the_files_own_problems():
    with pytest.raises(InputError, match=r"^--precision: payload.feedback: Input should be"):
        resolve_topology(
            TOPOLOGIES / "small.yaml",
            settings={"model.iterations": 2, "payload.feedback": "int4"},
            flags={"model.iterations": "--iterations", "payload.feedback": "--precision"},
        )


def test_source_layout_makes_legal_monitor_names(tmp_path):
    for stem in ("my data", "_u", "my-data"):
        (tmp_path / f"{stem}.csv").write_text("a\n1\n")
    topology = resolve_topology(source=parse_source(f"csv:{tmp_path}"))
    monitors = {m.name: m.vms for _, m in topology.monitors}
    assert monitors == {"my-data": ["my data"], "my-data-2": ["my-data"], "u": ["_u"]}


def test_a_topology_keeps_its_own_source_without_a_command_line_source():
    topology = resolve_topology(TOPOLOGIES / "small.yaml")
    assert topology.data.source.length == 4320


def test_smd_topology_names_every_machine_of_the_dataset_one_slice_per_group(smd_dir):
    topology = resolve_topology(TOPOLOGIES / "smd.yaml", source=parse_source(f"smd:{smd_dir}"))
    machines = sorted(p.name.removesuffix("_train.pkl") for p in smd_dir.glob("*_train.pkl"))
    named = sorted(vm for _, monitor in topology.monitors for vm in monitor.vms)
    assert named == machines and len(machines) == 19
    for slice_, monitor in topology.monitors:
        assert slice_.name == f"group-{monitor.name.split('-')[1]}"
    assert topology.data.source.path == smd_dir


def test_slice_rounds_must_fit_in_a_fedavg_round_for_local_models_only():
    settings = {"model.iterations": 4, "model.local_iterations": 2, "model.slice_iterations": 5}
    assert resolve_topology(slices=1, monitors=1, settings=settings).model.slice_iterations == 5
    with pytest.raises(InputError, match="L1=5 is larger than local_iterations L=2"):
        resolve_topology(slices=1, monitors=1, settings={**settings, "model.name": "attae"})
    # the default L1 is 5, or L where L is smaller
    attae = {"model.name": "attae"}
    assert resolve_topology(slices=1, monitors=1, settings=attae).model.slice_iterations == 5
    smaller = {**attae, "model.local_iterations": 3}
    assert resolve_topology(slices=1, monitors=1, settings=smaller).model.slice_iterations == 3


@pytest.mark.parametrize(("iterations", "expected"), [(500, 10), (10, 10), (5, 5), (1, 1)])
def test_the_default_fedavg_interval_is_ten_or_every_iteration_where_fewer(iterations, expected):
    """Pydantic checks no default, so the default L may not exceed I: it is min(10, I)."""
    settings = {"model.iterations": iterations}
    model = resolve_topology(slices=1, monitors=1, settings=settings).model
    assert model.local_iterations == expected
    assert model.local_iterations <= model.iterations


def test_window_length_defaults_by_model_and_a_given_one_is_kept(tmp_path):
    split = resolve_topology(None, 1, 1)
    local = resolve_topology(None, 1, 1, settings={"model.name": "attae"})
    cmsf = load_topology(write(tmp_path, f"model: {{name: cmsf-attae}}\n{ONE}"))
    given = load_topology(write(tmp_path, f"model: {{name: attae, window_length: 5}}\n{ONE}"))
    assert split.model.window_length == 8 and local.model.window_length == 16
    assert cmsf.model.window_length == 16 and given.model.window_length == 5
    # a file that does not give T: T follows --model; one that does: its T stays
    paper = TOPOLOGIES / "paper.yaml"
    assert resolve_topology(paper, settings={"model.name": "attae"}).model.window_length == 16
    assert resolve_topology(paper).model.window_length == 8
    fixed = write(tmp_path, f"model: {{window_length: 12}}\n{ONE}")
    assert resolve_topology(fixed, settings={"model.name": "attae"}).model.window_length == 12


def test_covariance_shrinkage_is_a_weight_for_the_split_models_only(tmp_path):
    settings = {"model.covariance_shrinkage": 0.5}
    topology = resolve_topology(slices=1, monitors=1, settings=settings)
    assert topology.model.covariance_shrinkage == 0.5
    with pytest.raises(InputError, match=r"model.covariance_shrinkage: Input should be less than"):
        resolve_topology(slices=1, monitors=1, settings={"model.covariance_shrinkage": 1.5})
    with pytest.raises(InputError, match="covariance_shrinkage applies to biwgan-gp"):
        resolve_topology(slices=1, monitors=1, settings={**settings, "model.name": "attae"})
    # a local model's run directory spells the defaults out, and its config loads back
    attae = resolve_topology(slices=1, monitors=1, settings={"model.name": "attae"})
    (tmp_path / "config.yaml").write_text(config_text(attae))
    reloaded = load_topology(tmp_path / "config.yaml")
    assert reloaded.model.metric_pooling == "mahalanobis"
    assert reloaded.model == attae.model
