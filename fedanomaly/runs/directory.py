"""The run directory: resolved config, per-iteration metrics, checkpoints, scores, summary."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from fedanomaly.config.schema import Topology
from fedanomaly.errors import InputError
from fedanomaly.files import check_folder_writable

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
LOG = "run.log"
CHECKPOINTS = "checkpoints"
#: The files a run writes before it trains; a refused run removes these, and only these.
FIRST_FILES = (CONFIG, METRICS, LOG)


def config_text(topology: Topology) -> str:
    """The resolved topology as ``config.yaml`` holds it, every default spelled out."""
    return yaml.safe_dump(topology.model_dump(mode="json"), sort_keys=False)


def default_run_dir(topology: Topology, root: Path = Path("runs")) -> Path:
    """``runs/<UTC time>-<topology>-<mode>``, to the millisecond, so that runs started in the
    same second (a script's parallel runs) get folders of their own.

    Parameters
    ----------
    topology
        Its name and mode name the folder.
    root
        The folder it goes in.

    Returns
    -------
    Path
        ``<root>/<YYYYmmdd-HHMMSS.mmm>-<name>-<mode>``, the time now in UTC, with ``-2``,
        ``-3``, ... added where that folder exists already; nothing is created.
    """
    now = time.time()
    stamp = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}.{int(now % 1 * 1000):03d}"
    base = root / f"{stamp}-{topology.name}-{topology.mode}"
    path, number = base, 1
    while path.exists():
        number += 1
        path = base.with_name(f"{base.name}-{number}")
    return path


def check_free(path: Path) -> None:
    """Refuse a folder that holds an earlier run's files or lies inside a run directory, a file
    in the way, or a folder that cannot be written or created."""
    if path.exists() and not path.is_dir():
        raise InputError(f"--out {path}: is a file; give a folder")
    if any((path / name).exists() for name in (SUMMARY, CHECKPOINTS, *FIRST_FILES)):
        raise InputError(f"{path}: holds an earlier run; choose another --out")
    for above in path.resolve().parents:  # a run's files would mix with that run's
        if (above / SUMMARY).is_file() or (above / METRICS).is_file():
            raise InputError(f"--out {path}: lies inside the run directory {above}")
    check_folder_writable(path, f"--out {path}")


class RunDirectory:
    """Files of one run, written as the run goes so that a failed run keeps what it had.

    Parameters
    ----------
    path
        The folder; it is created where missing, and must not hold an earlier run. A folder
        that exists already may hold other files; the run leaves them alone.
    """

    def __init__(self, path: Path) -> None:
        check_free(path)
        self.created = not path.exists()
        try:
            (path / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"{path}: cannot create the run directory: {error.strerror}") from None
        self.path = path
        try:  # claimed at once: a run started beside this one into the same folder is refused
            with (path / METRICS).open("x"):
                pass
        except FileExistsError:
            raise InputError(f"{path}: holds an earlier run; choose another --out") from None

    def remove(self) -> None:
        """Delete what the run wrote (for a run refused before it started).

        The files the run writes before training (``config.yaml``, ``metrics.jsonl``,
        ``run.log``, ``checkpoints/``) go; the folder goes too when the run created it and
        nothing else is left in it. Files of the user's in a folder given as ``--out`` stay.
        """
        for name in FIRST_FILES:
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / CHECKPOINTS, ignore_errors=True)
        if self.created and not any(self.path.iterdir()):
            self.path.rmdir()

    @property
    def log_file(self) -> Path:
        """Where Ray's and Flower's own logging goes."""
        return self.path / LOG

    def log_line(self, text: str) -> None:
        """Append ``fedanomaly: <text>`` to ``run.log``, after Ray's and Flower's lines."""
        with self.log_file.open("a") as log:
            log.write(f"fedanomaly: {text}\n")

    def write_config(self, topology: Topology) -> None:
        """The resolved topology, every default spelled out (:func:`config_text`)."""
        (self.path / CONFIG).write_text(config_text(topology))

    def append_metrics(self, records: list[dict[str, Any]]) -> None:
        """Append JSON lines to ``metrics.jsonl``."""
        with (self.path / METRICS).open("a") as stream:
            for record in records:
                stream.write(json.dumps(record) + "\n")

    def save_checkpoint(self, name: str, state: dict[str, torch.Tensor]) -> None:
        """A module's state dict as ``checkpoints/<name>.pt`` (load with ``weights_only=True``).

        Parameters
        ----------
        name
            The file's name without its suffix (``generator``, ``critic-<monitor>``).
        state
            The state dict, its tensors on the CPU.
        """
        torch.save(state, self.path / CHECKPOINTS / f"{name}.pt")

    def save_scores(self, monitor: str, arrays: dict[str, np.ndarray]) -> None:
        """A monitor's per-step test scores, predictions, labels and types.

        Parameters
        ----------
        monitor
            The monitor's name: the file is ``scores-<monitor>.npz``.
        arrays
            The arrays to save, by the name they take in the file.
        """
        np.savez(self.path / f"scores-{monitor}.npz", **arrays)

    def write_summary(self, summary: dict[str, Any]) -> None:
        """``summary.json``."""
        (self.path / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")


def read_summary(run: Path) -> dict[str, Any]:
    """A run directory's ``summary.json``.

    Raises
    ------
    InputError
        If ``run`` is not a folder, holds no ``summary.json`` (a run that stopped before its
        end keeps what it wrote, without one), or the file is not a JSON object.
    """
    if run.is_file():
        raise InputError(f"{run}: a file; give the run directory that holds it")
    if not run.is_dir():
        raise InputError(f"{run}: no such run directory")
    path = run / SUMMARY
    if not path.is_file() and not (run / LOG).is_file():
        raise InputError(f"{run}: not a run directory (no {SUMMARY}, no {LOG})")
    if not path.is_file():
        raise InputError(f"{run}: no {SUMMARY}: the run did not finish (its {LOG} says why)")
    try:
        summary = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not readable as JSON ({error})") from None
    if not isinstance(summary, dict):
        raise InputError(f"{path}: not a run summary (a JSON object)")
    return summary


def load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint written by :meth:`RunDirectory.save_checkpoint`, loaded safely."""
    return torch.load(path, weights_only=True, map_location="cpu")
