"""Reading topology files and source strings into validated configs, with one-line errors."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from pydantic import TypeAdapter, ValidationError

from fedanomaly.config.schema import (
    DEVICE_PATTERN,
    NAME_PATTERN,
    SOURCE_TYPES,
    PathSource,
    SourceConfig,
    Topology,
)
from fedanomaly.errors import InputError

_SOURCE_ADAPTER: TypeAdapter[SourceConfig] = TypeAdapter(SourceConfig)


#: What a value that fails a pattern of the schema should look like, in words.
PATTERN_TEXTS: dict[str, str] = {
    NAME_PATTERN: "a name starts with a letter or digit and holds only letters, digits, '_', "
    "'.' and '-'",
    DEVICE_PATTERN: "expected auto, cpu or cuda[:N]",
}

#: The YAML path of a problem of the whole topology (two sections that do not fit together).
TOP_LEVEL = "(top level)"


def yaml_path(loc: Iterable[int | str]) -> str:
    """Write a pydantic error location as a YAML path such as ``slices[1].monitors[0].name``.

    Union branch tags that pydantic inserts (``csv``, ``list[...]``, ``constrained-int``) are left
    out, since they are not keys of the file. A number follows a field name where it indexes a
    list; elsewhere it is a mapping's key (``5:`` written as a key).
    """
    parts: list[str] = []
    previous: int | str | None = None
    for item in loc:
        if isinstance(item, int) and isinstance(previous, str):
            parts.append(f"[{item}]")
        elif not isinstance(item, str):  # a number written as a mapping's key
            parts.append(f".{item}" if parts else str(item))
        elif (
            "[" in item
            or item.startswith("constrained-")
            or (previous in (None, "source") and item in SOURCE_TYPES)
        ):
            pass
        else:
            parts.append(f".{item}" if parts else item)
        previous = item
    return "".join(parts) or TOP_LEVEL


def describe_validation_error(
    error: ValidationError,
    where: str,
    flags: dict[str, str] | None = None,
    causes: list[str] | None = None,
) -> str:
    """One line naming the file (or command-line option), the YAML path, the problem and value.

    ``flags`` maps YAML paths set from the command line to the option that set them; a problem
    of a whole section (two fields that do not fit together) names the options set in it.

    Parameters
    ----------
    error
        The pydantic error; a problem set by a command-line option is reported first, and the
        count of the others is appended.
    where
        The file or source string, named where no option set the failing path; for a problem
        of a whole section, followed by the options that set something in it.
    flags
        Dotted YAML path -> the command-line option that set it.
    causes
        The options found to cause a problem at a path no option set (see
        :func:`~fedanomaly.config.overrides.option_causes`), named after ``where``; ``None``
        names the options that set something in the problem's section instead.

    Returns
    -------
    str
        ``<where or option>: <path>: <problem> (got <value>)``; the path is left out for a
        problem of the whole topology, the value for a mapping, a list or ``None``.
    """
    given = flags or {}
    problems = ordered_problems(error, given)
    first = problems[0]
    path = yaml_path(first["loc"])
    # a union's alternatives count as one problem; where one alternative failed on an item
    # (splits: 'auto' or a list of parts), that item says more than the other alternatives
    union = [first]
    if yaml_path(first["loc"][:-1]) == path:  # the last location is a union branch's tag
        field = first["loc"][:-1]
        union = [p for p in problems if p["loc"][: len(field)] == field]
        if deeper := [p for p in union if yaml_path(p["loc"]) != path]:
            first, path = deeper[0], yaml_path(deeper[0]["loc"])
    if (option := option_of(path, given)) is not None:
        where = option
    else:  # a problem of a whole section: name the options that set something in it
        top = path == TOP_LEVEL
        within = causes
        if within is None:
            within = [flag for key, flag in given.items() if top or key.startswith(f"{path}.")]
        if within:
            where = f"{where} with {', '.join(dict.fromkeys(within))}"
    # a value that fits no alternative of a union (vus_window: 'auto' or a positive integer)
    # fails once per alternative: one problem, each alternative's demand named
    siblings = [
        problem
        for problem in problems
        if problem["loc"][:-1] == first["loc"][:-1] and yaml_path(problem["loc"]) == path
    ]
    alternatives = [problem_text(problem) for problem in siblings]
    message = " or ".join(
        [alternatives[0], *(text.removeprefix("Input should be ") for text in alternatives[1:])]
    )
    value = first.get("input")
    shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
    said = union + siblings
    others = {mistake(p, given) for p in problems if p not in said} - {mistake(first, given)}
    more = len(others)
    tail = f" [and {more} more problem{'s' if more > 1 else ''}]" if more else ""
    # a problem of the whole topology names its own paths in the message
    located = "" if path == TOP_LEVEL else f"{path}: "
    return f"{where}: {located}{message}{shown}{tail}"


def mistake(problem: dict[str, Any], flags: dict[str, str]) -> tuple[str, ...]:
    """What a problem counts as: an option's value is one mistake however many paths the
    option sets (``--precision`` sets three payload kinds); elsewhere each problem is one.

    Parameters
    ----------
    problem
        One of pydantic's problem records.
    flags
        Dotted YAML path -> the command-line option that set it.

    Returns
    -------
    tuple of str
        The option and the value it gave, or the problem's path, kind and message.
    """
    path = yaml_path(problem["loc"])
    if (option := option_of(path, flags)) is not None:
        return (option, repr(problem.get("input")))
    return (path, str(problem["type"]), str(problem["msg"]))


def problem_text(problem: dict[str, Any]) -> str:
    """Pydantic's message for one problem, in the words of the file where pydantic's own would
    mislead: an unknown key, a name or device against a pattern, yes/no read as a boolean.

    Parameters
    ----------
    problem
        One of pydantic's problem records.

    Returns
    -------
    str
        The message, without pydantic's ``Value error,`` prefix.
    """
    kind, loc = problem["type"], problem["loc"]
    if kind == "extra_forbidden":
        # a source's type tag: first in a source string's location, after 'source' in a file's
        tags = [loc[0], *(item for before, item in pairwise(loc) if before == "source")]
        sources = [tag for tag in tags if tag in SOURCE_TYPES]
        if sources:
            return f"not a setting of data source '{sources[0]}'"
        return "unknown key"
    if kind == "string_pattern_mismatch":
        pattern = str(problem.get("ctx", {}).get("pattern", ""))
        if pattern in PATTERN_TEXTS:
            return PATTERN_TEXTS[pattern]
    if kind == "string_type" and isinstance(problem.get("input"), bool):
        return (
            f"{problem['msg']} (YAML reads yes, no, on and off as true/false: quote them if "
            "meant as text)"
        )
    return str(problem["msg"]).removeprefix("Value error, ")


def option_of(path: str, flags: dict[str, str]) -> str | None:
    """The command-line option that set the YAML ``path`` or a mapping above it, if any.

    Parameters
    ----------
    path
        A YAML path as :func:`yaml_path` writes it.
    flags
        Dotted YAML path -> the command-line option that set it.

    Returns
    -------
    str or None
        The option, or ``None`` where the path comes from the file or the defaults.
    """
    return next(
        (flag for key, flag in flags.items()
         if path == key or path.startswith((f"{key}.", f"{key}["))),
        None,
    )  # fmt: skip


def ordered_problems(error: ValidationError, flags: dict[str, str]) -> list[dict[str, Any]]:
    """A validation error's problems, those at a path an option set first (the user just
    typed it, and the file's own problems may follow from it).

    Parameters
    ----------
    error
        The pydantic error.
    flags
        Dotted YAML path -> the command-line option that set it.

    Returns
    -------
    list of dict
        Pydantic's problem records; a default computed from other fields
        (``model.window_length``) is left out where another problem explains it.
    """
    problems = [e for e in error.errors() if e["type"] != "default_factory_not_called"]
    problems = problems or error.errors()
    problems.sort(key=lambda problem: option_of(yaml_path(problem["loc"]), flags) is None)
    return problems


def validate_topology(data: Any, where: str, flags: dict[str, str] | None = None) -> Topology:
    """Validate a mapping (parsed YAML) as a topology; ``where`` names it in errors, and
    ``flags`` the command-line options that set some of its paths.

    Parameters
    ----------
    data
        The parsed content.
    where
        The file (or ``command line``), named in errors.
    flags
        Dotted YAML path -> the command-line option that set it (see
        :func:`describe_validation_error`).

    Returns
    -------
    Topology
        The validated topology; relative data paths are left as written.

    Raises
    ------
    InputError
        If ``data`` is not a mapping or the schema rejects it (one line, see
        :func:`describe_validation_error`).
    """
    if data is None:
        raise InputError(f"{where}: the file is empty")
    if not isinstance(data, dict):
        raise InputError(f"{where}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return Topology.model_validate(data)
    except ValidationError as error:
        raise InputError(describe_validation_error(error, where, flags)) from None


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping (the plain loader keeps
    the last, so a repeated setting would pass unnoticed)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        """Build a mapping as the safe loader does, after checking its keys are distinct.

        Parameters
        ----------
        node
            The mapping node.
        deep
            Whether nested values are constructed at once (passed on to the safe loader).

        Returns
        -------
        dict
            The mapping.

        Raises
        ------
        yaml.constructor.ConstructorError
            If a key is given twice (``true`` and ``1`` count as different keys; ``<<`` merge
            keys are not checked), or a key cannot be hashed.
        """
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` may restate merged keys
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                marked = (type(key), key)  # true and 1 are different keys
                if marked in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key '{key}' is given twice", key_node.start_mark
                    )
                seen.add(marked)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark
                ) from None
        return super().construct_mapping(node, deep=deep)


def load_topology(path: str | Path) -> Topology:
    """Load and validate a topology YAML file.

    Relative data paths in the file are taken relative to the file's folder.

    Raises
    ------
    InputError
        For a missing or unreadable file, broken YAML, or a value the schema rejects.
    """
    file = Path(path)
    topology = validate_topology(read_topology(file), str(file))
    rebase_paths(topology, file.parent)
    return topology


def read_topology(file: Path) -> Any:
    """A topology YAML file's parsed content, not yet validated.

    Raises
    ------
    InputError
        For a missing or unreadable file, or broken YAML.
    """
    if file.is_dir():
        raise InputError(f"{file}: is a folder; give a topology YAML file")
    if not file.exists():
        raise InputError(f"{file}: no such topology file")
    if not file.is_file():
        raise InputError(f"{file}: not a regular file; give a topology YAML file")
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputError(f"{file}: not valid YAML{at}: {problem}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{file}: cannot read: {error}") from None
    return data


def rebase_paths(topology: Topology, folder: Path) -> None:
    """Take the topology's relative data paths relative to ``folder`` (its file's), in place.

    Parameters
    ----------
    topology
        The topology; ``data.source`` and every monitor's own source with a relative path are
        changed.
    folder
        The folder the paths are relative to.
    """
    sources = [topology.data.source] + [m.source for _, m in topology.monitors if m.source]
    for source in sources:
        if isinstance(source, PathSource) and source.path and not source.path.is_absolute():
            source.path = folder / source.path


def parse_source(text: str) -> SourceConfig:
    """Parse a command-line source ``TYPE``, ``TYPE:PATH`` or ``TYPE[:PATH]?key=value&...``.

    Examples: ``synthetic-vnf``, ``synthetic-vnf?length=2880``,
    ``smd:../shared/datasets/smd/processed``,
    ``csv:usage.csv?timestamp_column=time&columns=cpu,mem&column_groups=cpu:cpu;memory:mem``.
    Values are taken as written (percent-escapes such as ``%26`` for ``&`` are decoded).
    """
    head, _, query = text.partition("?")
    kind, _, path = head.partition(":")
    options = [item.partition("=") for item in query.split("&") if item]
    keys = [key for key, _, _ in options]
    if repeated := sorted({key for key in keys if keys.count(key) > 1}):
        raise InputError(f"data source '{text}': {repeated[0]} is given more than once")
    if "" in keys:
        raise InputError(f"data source '{text}': an option after '?' has no name (key=value)")
    if placed := [key for key in ("type", "path") if key in keys]:
        raise InputError(
            f"data source '{text}': {placed[0]} is not an option after '?'; write TYPE:PATH?..."
        )
    data: dict[str, Any] = {"type": kind, **{key: unquote(value) for key, _, value in options}}
    if path:
        data["path"] = path
    if kind not in SOURCE_TYPES:
        raise InputError(
            f"data source '{text}': unknown source type '{kind}' (known: {', '.join(SOURCE_TYPES)})"
        )
    try:
        return _SOURCE_ADAPTER.validate_python(data)
    except ValidationError as error:
        raise InputError(describe_validation_error(error, f"data source '{text}'")) from None
