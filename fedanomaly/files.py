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


def write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Write ``out`` through a temporary file beside it, so that no half-written file is left.

    Parameters
    ----------
    out
        The file to write; its folder must exist.
    write
        Writes the content to the temporary path it is given (same suffix as ``out``).

    Raises
    ------
    InputError
        If the folder does not exist, ``out`` is a folder, or the folder cannot be written.
    """
    if not out.parent.is_dir():
        raise InputError(f"{out}: the folder {out.parent} does not exist")
    if out.is_dir():
        raise InputError(f"{out}: is a folder; give a file name")
    try:
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
        The PNG file to write; its folder must exist.
    """
    write_atomically(out, lambda path: figure.savefig(path, dpi=110, format="png"))
