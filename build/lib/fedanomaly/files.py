"""Output files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fedanomaly.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def check_folder_writable(folder: Path, what: str) -> None:
    """Refuse, before any work, a folder that cannot be written or created.

    The nearest existing folder on the way is probed with a temporary folder, removed at once,
    so that permissions, read-only file systems and pseudo file systems all answer.

    Parameters
    ----------
    folder
        The folder that will be written in (it may not exist yet).
    what
        What is refused, for the message (``--out results/x.csv``).

    Raises
    ------
    InputError
        If a file stands in the way or the nearest existing folder cannot be written.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{what}: {existing} is a file, not a folder")
    try:
        Path(tempfile.mkdtemp(dir=existing)).rmdir()
    except OSError as error:
        raise InputError(f"{what}: cannot write in {existing}: {error.strerror or error}") from None


def refuse_bad_output_path(out: Path, what: str) -> None:
    """Refuse an output file whose folder is a file, or that is itself a folder: what the path
    alone tells, without touching the disk's contents. A missing folder is made when the file
    is written.

    Parameters
    ----------
    out
        The file to be written.
    what
        What is refused, for the message (``--out``).

    Raises
    ------
    InputError
        If the folder of ``out`` exists as a file, or ``out`` is a folder.
    """
    if out.parent.exists() and not out.parent.is_dir():
        raise InputError(f"{what} {out}: {out.parent} is a file, not a folder")
    if out.is_dir():
        raise InputError(f"{what} {out}: is a folder; give a file name")


def refuse_non_png(out: Path, what: str) -> None:
    """Refuse a figure name that does not end in ``.png`` (figures are written as PNG).

    Parameters
    ----------
    out
        The figure's file; its suffix is compared without regard to case.
    what
        What is refused, for the message (``--out``).

    Raises
    ------
    InputError
        If the suffix of ``out`` is not ``.png``.
    """
    if out.suffix.lower() != ".png":
        raise InputError(f"{what} {out}: figures are written as PNG; give a name ending in .png")


def check_output_file(out: Path, what: str) -> None:
    """Refuse, before any work, an output file that could not be written.

    Parameters
    ----------
    out
        The file to be written (its folder is made if missing).
    what
        What is refused, for the message (``--out``).

    Raises
    ------
    InputError
        If ``out`` is a folder, or its folder (or the nearest existing one above it) is a
        file or cannot be written.
    """
    refuse_bad_output_path(out, what)
    check_folder_writable(out.parent, f"{what} {out}")


def check_figure_name(out: Path, what: str) -> None:
    """Refuse, before any work, a figure file that could not be written or is not a PNG.

    Parameters
    ----------
    out
        The figure's file (its folder is made if missing).
    what
        What is refused, for the message (``--out``).

    Raises
    ------
    InputError
        For what :func:`check_output_file` refuses, or a name not ending in ``.png``.
    """
    check_output_file(out, what)
    refuse_non_png(out, what)


def write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Write ``out`` through a temporary file beside it, so that no half-written file is left.

    Parameters
    ----------
    out
        The file to write; a missing folder is made.
    write
        Writes the content to the temporary path it is given (same suffix as ``out``).

    Raises
    ------
    InputError
        For what :func:`refuse_bad_output_path` refuses, or a folder that cannot be written
        (the temporary file is the probe).
    """
    refuse_bad_output_path(out, "output")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(suffix=out.suffix, dir=out.parent)
    except OSError as error:
        raise InputError(f"{out}: cannot write there: {error.strerror or error}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        umask = os.umask(0)  # mkstemp makes the file private; give it the usual mode
        os.umask(umask)
        temporary.chmod(0o666 & ~umask)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)


def write_figure(figure: Figure, out: Path) -> None:
    """Save a figure as PNG through a temporary file (:func:`write_atomically`).

    Parameters
    ----------
    figure
        The matplotlib figure.
    out
        The PNG file to write; a missing folder is made.

    Raises
    ------
    InputError
        For what :func:`write_atomically` refuses, or a name not ending in ``.png``.
    """
    refuse_bad_output_path(out, "output")
    refuse_non_png(out, "output")
    write_atomically(out, lambda path: figure.savefig(path, dpi=110, format="png"))
