"""The ``fedanomaly`` command line: thin typer commands that parse, call one function and print.

One module per command group: :mod:`.topology`, :mod:`.data`, :mod:`.simulate` (with the
summary tables of :mod:`.report`), :mod:`.generate` and :mod:`.bench`; :mod:`.common` holds the
consoles, the exit-2 rule for bad input and the shared options.
"""

from __future__ import annotations

import signal

import typer

from fedanomaly import __version__
from fedanomaly.cli.bench import bench_app
from fedanomaly.cli.common import console
from fedanomaly.cli.data import data_app
from fedanomaly.cli.generate import generate
from fedanomaly.cli.simulate import simulate
from fedanomaly.cli.topology import topology_app

app = typer.Typer(
    name="fedanomaly",
    help="Federated VM anomaly detection across the tiers of virtualized network slicing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"fedanomaly {__version__}")


app.command()(simulate)
app.command()(generate)
app.add_typer(topology_app, name="topology")
app.add_typer(data_app, name="data")
app.add_typer(bench_app, name="bench")


def main() -> None:
    """Entry point of the ``fedanomaly`` console script."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `fedanomaly ... | head` ends quietly
    app()
