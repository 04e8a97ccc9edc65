"""The topology a command works on: a file, ``--slices/--monitors``, or a source's own layout,
with command-line settings laid over it."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fedanomaly.config.builder import balanced_slices
from fedanomaly.config.loading import (
    describe_validation_error,
    option_of,
    ordered_problems,
    read_topology,
    rebase_paths,
    validate_topology,
    yaml_path,
)
from fedanomaly.config.schema import (
    SPLIT_ONLY_SETTINGS,
    SourceConfig,
    SyntheticVnfConfig,
    Topology,
    source_text,
)
from fedanomaly.errors import InputError


def monitor_name(entity: str, taken: set[str]) -> str:
    """A legal, unused monitor name for an entity (``my data`` -> ``my-data``).

    Parameters
    ----------
    entity
        The entity's name; runs of characters a name may not hold become ``-``, leading and
        trailing ``-``, ``_`` and ``.`` are dropped, and the result is cut to 60 characters
        (``vm`` where nothing is left).
    taken
        Names already given; a name in it gets a suffix ``-2``, ``-3``, ... The name returned is
        added to it.

    Returns
    -------
    str
        The monitor name.
    """
    base = re.sub(r"[^A-Za-z0-9_.\-]+", "-", entity).strip("-_.")[:60] or "vm"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    taken.add(name)
    return name


def source_layout(source: SourceConfig, seed: int) -> list[dict[str, Any]]:
    """Slices with one monitor per entity of ``source``, as the source groups them.

    Parameters
    ----------
    source
        The data source config; the source is opened to list its entities.
    seed
        Topology seed the source is opened with.

    Returns
    -------
    list of dict
        One mapping per slice of the source's default layout, with ``name`` and ``monitors``;
        each monitor is named after its entity (:func:`monitor_name`) and holds it as its one VM.

    Raises
    ------
    InputError
        If the source cannot be opened (see :func:`fedanomaly.data.sources.open_source`).
    """
    # here, not at the top: the sources import the schema, and so this package, themselves
    from fedanomaly.data.sources import open_source

    layout = open_source(source, seed).default_layout()
    taken: set[str] = set()
    return [
        {
            "name": slice_name,
            "monitors": [{"name": monitor_name(vm, taken), "vms": [vm]} for vm in vms],
        }
        for slice_name, vms in layout.items()
    ]


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``dotted = "a.b.c"``, creating mappings on the way.

    Parameters
    ----------
    data
        The nested mappings, changed in place.
    dotted
        The key path, keys joined by ``.``.
    value
        The value to set.
    """
    *parents, last = dotted.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[last] = value


def option_settings(
    options: dict[str, tuple[str, Any]],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Split ``{dotted key: (option, value)}`` into :func:`resolve_topology`'s ``settings``
    and ``flags`` (the options given, those not ``None``), so that a command lists each option
    once.

    Examples
    --------
    >>> option_settings({"seed": ("--seed", 3)})
    ({'seed': 3}, {'seed': '--seed'})
    """
    settings = {key: value for key, (_, value) in options.items()}
    flags = {key: option for key, (option, value) in options.items() if value is not None}
    return settings, flags


def resolve_topology(
    file: Path | None = None,
    slices: int | None = None,
    monitors: int | None = None,
    source: SourceConfig | None = None,
    settings: dict[str, Any] | None = None,
    flags: dict[str, str] | None = None,
) -> Topology:
    """The topology a command runs on.

    Parameters
    ----------
    file
        Topology YAML; its settings are the base.
    slices, monitors
        Replace the file's slices with a balanced layout (both or neither).
    source
        Data source from the command line; it replaces ``data.source`` and every monitor's own
        source. Without a file and sizes, the topology is the source's own layout: one monitor
        per entity (SMD: one slice per machine group); generated data, and any source with
        ``data.partition: split``, get the paper's 3 slices of 3 monitors.
    settings
        Dotted keys (``"seed"``, ``"data.injection.rate"``) and values that override the rest;
        ``None`` values are skipped.
    flags
        The command-line option behind each dotted key, named in errors instead of the file.

    Raises
    ------
    InputError
        For a bad file, bad sizes or a setting the schema rejects.
    """
    if (slices is None) != (monitors is None):
        raise InputError("--slices and --monitors go together: give both or neither")
    given = {key: value for key, value in (settings or {}).items() if value is not None}
    data: dict[str, Any] = {"name": "command-line"}
    as_written = False  # the file's data paths are not yet taken relative to its folder
    if file is not None:
        overridden = bool(given) or source is not None or slices is not None
        data, as_written = file_settings(Path(file), overridden, given)
    from_file = file is not None
    if source is None and not from_file:
        source = SyntheticVnfConfig()
    if source is not None:
        data.setdefault("data", {})["source"] = source.model_dump()
        for slice_ in data.get("slices", []):
            listed = slice_.get("monitors") if isinstance(slice_, dict) else None
            for monitor in listed if isinstance(listed, list) else []:
                if isinstance(monitor, dict):  # a count names monitors without sources
                    monitor["source"] = None
    if any(key.startswith("data.source.") for key in given) and from_file:
        # a file that leaves data.source out has the default source: a setting of it needs
        # that source's type to be written out
        source_data = data.setdefault("data", {}).setdefault("source", {})
        source_data.setdefault("type", SyntheticVnfConfig().type)
    before = copy.deepcopy(data)  # what the options go over, for telling what they cause
    for key, value in given.items():
        set_path(data, key, value)
    split = data.get("data", {}).get("partition") == "split"
    if slices is not None and monitors is not None:
        data["slices"] = balanced_slices(slices, monitors)
        if not from_file:
            data["name"] = f"balanced-{slices}x{monitors}"
    elif not from_file and source is not None:
        generated = source.type == "synthetic-vnf"
        layout = balanced_slices(3, 9) if split or generated else source_layout(source, 0)
        data["slices"] = layout
    where = str(file) if file else "command line"
    try:
        topology = validate_topology(data, where, flags)
    except InputError:
        causes = option_causes(data, before, flags or {})
        if causes is None:
            raise
        try:  # the same problem, named with what caused it
            Topology.model_validate(data)
        except ValidationError as error:
            raise InputError(describe_validation_error(error, where, flags, causes)) from None
        raise
    check_option_scope(topology, flags or {})
    if file is not None and as_written and source is None:
        rebase_paths(topology, Path(file).parent)
    replaced = f" with data source {source_text(source)}" if source is not None else ""
    topology.mark_origin(f"{file}{replaced}" if file is not None else "", flags)
    return topology


#: Model settings that only one kind of model reads (local: attae and cmsf-attae; split: the
#: others), which a file may still carry (a written-out config holds every field) but an
#: option given for the other kind would be silently ignored.
OPTION_SCOPE: dict[str, tuple[bool, str]] = {
    "model.metric_pooling": (False, "applies to biwgan-gp and its baselines; {name} scores with "
                             "reconstruction_score"),
    "model.level_stretch": (False, "applies to biwgan-gp and its baselines"
                            + SPLIT_ONLY_SETTINGS["level_stretch"][0]),
    "model.slice_iterations": (True, "applies to attae and cmsf-attae, whose monitors train "
                               "whole copies; {name}'s slice managers train every iteration"),
    "model.reconstruction_score": (True, "applies to attae and cmsf-attae; {name}'s score "
                                   "(eq. 28) always standardises its errors"),
    "model.fine_tune_iterations": (True, "applies to attae and cmsf-attae, whose monitors hold "
                                   "a whole model; {name}'s monitors hold only a critic"),
}  # fmt: skip


def check_option_scope(topology: Topology, flags: dict[str, str]) -> None:
    """Refuse an option the topology's model does not read.

    Parameters
    ----------
    topology
        The validated topology; its model decides which options apply (:data:`OPTION_SCOPE`).
    flags
        Dotted YAML path -> the command-line option that set it.

    Raises
    ------
    InputError
        Naming the option and the models it applies to.
    """
    model = topology.model
    for key, (local, reason) in OPTION_SCOPE.items():
        if key in flags and model.is_local != local:
            raise InputError(f"{flags[key]}: {reason.format(name=model.name)}")


def option_causes(
    data: dict[str, Any], before: dict[str, Any], flags: dict[str, str]
) -> list[str] | None:
    """The options without which the first problem of ``data`` goes away: those that caused
    it, where it lies at a path no option set (a file's L against the I an option set).

    Parameters
    ----------
    data
        The settings that fail validation, the options' values laid over ``before``.
    before
        The same settings without the options' values (the file's, the sizes', the source's).
    flags
        Dotted YAML path -> the option that set it.

    Returns
    -------
    list of str or None
        The causes in the order given (empty: the problem is there without the options, the
        file's own); ``None`` where there are no options, the data validate, or an option set
        the problem's path (it is named as it is).
    """
    problems = validation_problems(data, flags)
    if not problems or not flags or option_of(problems[0][0], flags) is not None:
        return None
    causes = []
    for option in dict.fromkeys(flags.values()):
        without = copy.deepcopy(data)
        for key in (key for key, flag in flags.items() if flag == option):
            found, value = value_at(before, key)
            if found:
                set_path(without, key, copy.deepcopy(value))
            else:
                unset_path(without, key)
        if problems[0] not in validation_problems(without, flags):
            causes.append(option)
    return causes


def validation_problems(data: dict[str, Any], flags: dict[str, str]) -> list[tuple[str, str]]:
    """The YAML path and message of each problem of ``data``, in the order an error names
    them (:func:`~fedanomaly.config.loading.ordered_problems`); none where they validate."""
    try:
        Topology.model_validate(data)
    except ValidationError as error:
        return [(yaml_path(e["loc"]), e["msg"]) for e in ordered_problems(error, flags)]
    return []


def value_at(data: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    """Whether nested mappings hold the dotted key, and its value there (``None`` if not)."""
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return False, None
        data = data[key]
    return True, data


def unset_path(data: dict[str, Any], dotted: str) -> None:
    """Remove the dotted key from nested mappings, where they hold it."""
    *parents, last = dotted.split(".")
    for key in parents:
        data = data.get(key) if isinstance(data, dict) else None
    if isinstance(data, dict):
        data.pop(last, None)


def file_settings(file: Path, overridden: bool, keys: Iterable[str]) -> tuple[dict[str, Any], bool]:
    """What a topology file sets, as mappings the command line's settings go over.

    A file valid on its own gives what it sets, as the schema reads it (defaults are filled
    in again after the settings, so that a default that depends on another field, T on the
    model, follows a setting of that field). A file that fails on its own is taken as written
    where the command line overrides something (``overridden``): its settings may be what it
    lacks (a ``--mode`` under which its layout holds, ``--iterations`` for its L); whatever
    still fails is refused then, naming the file, and the options where they cause it.
    ``keys`` are the dotted keys the command line sets.

    Parameters
    ----------
    file
        The topology file.
    overridden
        Whether the command line sets anything (settings, a source or sizes).
    keys
        The dotted keys of the command line's settings.

    Returns
    -------
    tuple
        The settings, and whether they are the file as written (its relative data paths not
        yet taken relative to its folder).

    Raises
    ------
    InputError
        If the file cannot be read or parsed, or fails validation and either nothing is
        overridden or the settings cannot be laid over it (:func:`mergeable`).
    """
    written = read_topology(file)
    try:
        topology = validate_topology(written, str(file))  # pydantic leaves its input as it was
    except InputError:
        if not overridden or not mergeable(written, keys):
            raise
        return written, True
    rebase_paths(topology, file.parent)
    return topology.model_dump(mode="python", exclude_unset=True), False


def mergeable(written: Any, keys: Iterable[str]) -> bool:
    """Whether a file's content has a mapping (or nothing) wherever the command line sets
    something: the top level, ``data`` and ``data.source`` (a source from the command line),
    and every section above one of the dotted ``keys``; and its slices as mappings.

    Parameters
    ----------
    written
        The file's parsed content, not validated.
    keys
        The dotted keys the command line sets.

    Returns
    -------
    bool
        False if the content is not a mapping, one of those sections holds a value, a list or
        ``null``, or ``slices`` is given and is not a list of mappings.
    """
    sections = {"data", "data.source"} | {
        ".".join(key.split(".")[:depth]) for key in keys for depth in range(1, key.count(".") + 1)
    }
    absent = object()
    for section in sections:
        node: Any = written
        for part in section.split("."):
            node = node.get(part, absent) if isinstance(node, dict) else absent
        if node is not absent and not isinstance(node, dict):  # a value, a list or null
            return False
    slices = written.get("slices", []) if isinstance(written, dict) else None
    return isinstance(slices, list) and all(isinstance(slice_, dict) for slice_ in slices)
