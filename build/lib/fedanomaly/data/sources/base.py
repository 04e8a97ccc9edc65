"""What every data source offers: its entities and each entity's series."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path

from fedanomaly.config.schema import PathSource
from fedanomaly.data.series import EntityData
from fedanomaly.errors import InputError


def natural_key(name: str) -> list[int | str]:
    """Sort key that puts ``2`` before ``10`` (``machine-3-2`` before ``machine-3-10``)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class DataSource(ABC):
    """A named type of metric data, one series per entity (VM or machine).

    Sources are read lazily: :meth:`load` reads one entity when a monitor asks for it.
    """

    #: The type name used in YAML and on the command line.
    type_name: str

    @property
    @abstractmethod
    def label(self) -> str:
        """How the source is written on the command line, e.g. ``smd:/data/smd``."""

    def entities(self) -> list[str] | None:
        """Names of the entities the source holds, in a stable order; ``None`` if any name goes."""
        return None

    def default_layout(self) -> dict[str, list[str]]:
        """Slices and their entities for a topology built from the source alone.

        By default the entities are spread in order over three slices (fewer where there are
        fewer entities).
        """
        names = self.entities() or []
        count = max(1, min(3, len(names)))
        base, extra = divmod(len(names), count)
        layout: dict[str, list[str]] = {}
        start = 0
        for s in range(count):
            size = base + (s < extra)
            layout[f"slice-{s + 1}"] = names[start : start + size]
            start += size
        return layout

    @abstractmethod
    def load(self, entity: str, slice_name: str) -> EntityData:
        """Read one entity.

        Parameters
        ----------
        entity
            Entity name, one of :meth:`entities` where that is not ``None``.
        slice_name
            Slice of the monitor that holds the entity (generated sources share load across it).
        """


class FileSource(DataSource):
    """A source read from a path that must exist."""

    def __init__(self, config: PathSource, kind: str, *, directory: bool) -> None:
        if config.path is None:
            raise InputError(
                f"data source '{kind}' needs a path: give it as {kind}:PATH (simulate's --data, "
                "data inspect's SOURCE argument) or as the topology file's data.source.path"
            )
        path = Path(config.path)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder (data source '{kind}')")
        if directory and not path.is_dir():
            raise InputError(f"{path}: data source '{kind}' expects a folder")
        self.path = path

    @property
    def label(self) -> str:
        return f"{self.type_name}:{self.path}"

    def unknown_entity(self, entity: str) -> InputError:
        """The error for an entity this source does not hold."""
        names = self.entities() or []
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        return InputError(
            f"{self.path}: no entity '{entity}' in {self.type_name} data (has {shown})"
        )
