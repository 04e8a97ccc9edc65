"""What every command group of the command line shares: the consoles, the exit-2 error rule,
the options several commands take, and number formatting."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console, RenderableType

from fedanomaly.errors import InputError

console = Console(width=None if Console().is_terminal else 160)
#: A width no table needs, to measure the narrowest width a table's words allow.
UNBOUNDED_WIDTH = 100_000
errors = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def reports_input_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn an :class:`InputError`, or a :class:`MemoryError` from sizes the machine cannot
    hold, into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            errors.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except MemoryError as error:  # sizes the machine cannot hold: also the input's
            detail = f" ({error})" if str(error) else ""
            errors.print(
                f"error: not enough memory for these sizes{detail}; try shorter data or "
                "fewer monitors",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None

    return wrapper


Slices = Annotated[
    int | None,
    typer.Option("--slices", "-s", help="Slices of a balanced topology (with --monitors)."),
]
Monitors = Annotated[
    int | None,
    typer.Option("--monitors", "-n", help="Monitors of a balanced topology (with --slices)."),
]
Seed = Annotated[int | None, typer.Option(help="Seed (default: the topology's).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
DataOption = Annotated[
    str | None,
    typer.Option(
        help="Data source: TYPE or TYPE:PATH, options after ?key=value&... (README: Data sources)."
    ),
]
Inject = Annotated[
    str | None,
    typer.Option("--inject", help="Comma-separated anomaly types to inject (see `data types`)."),
]
Rate = Annotated[float | None, typer.Option(help="Fraction of anomalous steps to inject.")]
Intensity = Annotated[float | None, typer.Option(help="Anomaly size in train standard deviations.")]


def injection_options(
    inject: str | None, rate: float | None, intensity: float | None
) -> dict[str, tuple[str, Any]]:
    """``--inject``, ``--rate`` and ``--intensity`` as :func:`option_settings` entries.

    Parameters
    ----------
    inject
        Comma-separated anomaly types, or ``None``.
    rate, intensity
        The share of anomalous steps and the anomalies' size, or ``None``.

    Returns
    -------
    dict
        ``data.injection.types``, ``rate`` and ``intensity``, each with its option's name.
    """
    types = [name.strip() for name in inject.split(",")] if inject is not None else None
    return {
        "data.injection.types": ("--inject", types),
        "data.injection.rate": ("--rate", rate),
        "data.injection.intensity": ("--intensity", intensity),
    }


def human_bytes(count: float) -> str:
    """``1.5 MB`` style."""
    if count < 1000:
        return f"{int(count)} B"
    for unit in ("kB", "MB"):
        count /= 1000
        if count < 1000:
            return f"{count:.1f} {unit}"
    return f"{count / 1000:.1f} GB"


def number(value: float | None) -> str:
    """Three decimals, or ``n/a`` for an undefined figure."""
    return "n/a" if value is None else f"{value:.3f}"


def show(renderable: RenderableType) -> None:
    """Print a table (or a group of them) on :data:`console` without cutting or splitting a
    word of any cell: at the console's width where every word fits (long cells wrap between
    words), else at the table's natural width, nothing wrapped, the terminal wrapping the
    longer lines.

    Parameters
    ----------
    renderable
        What to print.
    """
    unbounded = console.measure(renderable, options=console.options.update_width(UNBOUNDED_WIDTH))
    width = console.width
    if unbounded.minimum > width:  # print's own width argument cannot exceed the console's
        console.width = unbounded.maximum
    try:
        console.print(renderable, crop=False)
    finally:
        console.width = width
