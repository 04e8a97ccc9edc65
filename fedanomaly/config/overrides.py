"""The topology a command works on: a file, ``--slices/--monitors``, or a source's own layout,
with command-line settings laid over it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fedanomaly.config.builder import balanced_slices
from fedanomaly.config.loading import load_topology, validate_topology
from fedanomaly.config.schema import SourceConfig, SyntheticVnfConfig, Topology
from fedanomaly.errors import InputError


def monitor_name(entity: str, taken: set[str]) -> str:
    """A legal, unused monitor name for an entity (``my data`` -> ``my-data``)."""
    base = re.sub(r"[^A-Za-z0-9_.\-]+", "-", entity).strip("-_.")[:60] or "vm"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    taken.add(name)
    return name


def source_layout(source: SourceConfig, seed: int) -> list[dict[str, Any]]:
    """Slices with one monitor per entity of ``source``, as the source groups them."""
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
    """Set ``data[a][b][c] = value`` for ``dotted = "a.b.c"``, creating mappings on the way."""
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
    base = load_topology(file) if file is not None else None
    # only what the file gives: defaults are filled in again after the settings, so a default
    # that depends on another field (T on the model) follows a setting of that field
    data: dict[str, Any] = (
        base.model_dump(mode="python", exclude_unset=True) if base else {"name": "command-line"}
    )
    if source is None and base is None:
        source = SyntheticVnfConfig()
    if source is not None:
        data.setdefault("data", {})["source"] = source.model_dump()
        for slice_ in data.get("slices", []):
            for monitor in slice_["monitors"]:
                monitor["source"] = None
    given = {key: value for key, value in (settings or {}).items() if value is not None}
    if any(key.startswith("data.source.") for key in given) and base is not None:
        # a file that leaves data.source out has the default source: a setting of it needs
        # that source's type to be written out
        source_data = data.setdefault("data", {}).setdefault("source", {})
        source_data.setdefault("type", base.data.source.type)
    for key, value in given.items():
        set_path(data, key, value)
    split = data.get("data", {}).get("partition") == "split"
    if slices is not None and monitors is not None:
        data["slices"] = balanced_slices(slices, monitors)
        if base is None:
            data["name"] = f"balanced-{slices}x{monitors}"
    elif base is None and source is not None:
        generated = source.type == "synthetic-vnf"
        layout = balanced_slices(3, 9) if split or generated else source_layout(source, 0)
        data["slices"] = layout
    return validate_topology(data, str(file) if file else "command line", flags)
