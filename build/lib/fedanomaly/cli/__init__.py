"""The ``fedanomaly`` command line: thin typer commands that parse, call one function and print.

One module per command group: :mod:`.topology`, :mod:`.data`, :mod:`.simulate` (with the
summary tables of :mod:`.report`), :mod:`.generate` and :mod:`.bench`; :mod:`.common` holds the
consoles, the exit-2 rule for bad input and the shared options.
"""

from __future__ import annotations

import re
import signal
import sys

import click
import typer

from fedanomaly import __version__
from fedanomaly.cli.bench import bench_app
from fedanomaly.cli.common import console, errors
from fedanomaly.cli.data import data_app
from fedanomaly.cli.generate import generate
from fedanomaly.cli.saved_runs import report
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
app.command()(report)
app.add_typer(topology_app, name="topology")
app.add_typer(data_app, name="data")
app.add_typer(bench_app, name="bench")


def main() -> None:
    """Entry point of the ``fedanomaly`` console script.

    Usage errors (an unknown option or command, a value of the wrong type) end, like bad input,
    with one line on stderr and exit code 2; a bare command group prints its help.
    """
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `fedanomaly ... | head` ends quietly
    try:
        code = app(prog_name="fedanomaly", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:  # the help is already printed
        sys.exit(error.exit_code)
    except click.ClickException as error:
        # click and typer each add the same "Did you mean" to an unknown command: say it once
        message = re.sub(r"( Did you mean [^?]*\?)\1+", r"\1", error.format_message())
        where = getattr(error, "ctx", None)
        hint = f" (see '{where.command_path} --help')" if where is not None else ""
        errors.print(f"error: {message}{hint}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:  # end of input at a prompt (Ctrl-C exits 130 in typer)
        errors.print("Aborted!", markup=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
