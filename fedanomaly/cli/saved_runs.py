"""``fedanomaly report``: a saved run's closing tables, or several runs side by side."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from fedanomaly.cli.common import Json, reports_input_errors, show
from fedanomaly.cli.report import (
    comparison_column,
    comparison_row,
    comparison_table,
    per_monitor_table,
    summary_tables,
)
from fedanomaly.errors import InputError

T = TypeVar("T")


def from_summary(path: Path, make: Callable[[], T]) -> T:
    """``make()``, which reads the summary at ``path``, or an :class:`InputError` naming the
    file where it lacks what ``make`` reads (a file another version wrote)."""
    try:
        return make()
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(
            f"{path}: not a summary this version of fedanomaly writes "
            f"(missing or unexpected: {error})"
        ) from None


@reports_input_errors
def report(
    runs: Annotated[
        list[Path], typer.Argument(help="Run directories (what simulate --out names).")
    ],
    per_monitor: Annotated[
        bool, typer.Option("--per-monitor", help="Each monitor's figures too (one run).")
    ] = False,
    as_json: Json = False,
) -> None:
    """Show a saved run's closing tables, or several runs' traffic and detection side by side.

    With --json, the side-by-side rows of every run given, as a list."""
    from fedanomaly.runs.directory import SUMMARY, read_summary

    if per_monitor and as_json:
        raise InputError(
            "--per-monitor prints a table, which --json does not; the run's summary.json holds "
            "each monitor's figures (detection.per_monitor)"
        )
    if per_monitor and len(runs) > 1:
        raise InputError("--per-monitor: give one run directory")
    summaries = [(run, read_summary(run)) for run in runs]
    rows = [
        from_summary(run / SUMMARY, partial(comparison_row, str(run), summary))
        for run, summary in summaries
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if len(summaries) > 1:
        columns = [
            from_summary(run / SUMMARY, partial(comparison_column, row))
            for (run, _), row in zip(summaries, rows, strict=True)
        ]
        show(comparison_table([row["run"] for row in rows], columns))
        return
    run, summary = summaries[0]
    show(from_summary(run / SUMMARY, partial(summary_tables, summary)))
    if per_monitor:
        show(from_summary(run / SUMMARY, partial(per_monitor_table, summary)))
