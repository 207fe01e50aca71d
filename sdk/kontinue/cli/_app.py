"""The ``kontinue`` command (also ``kubectl kontinue``)."""

from __future__ import annotations

import click

from kontinue import __version__
from kontinue.cli._bench import bench
from kontinue.cli._catalog import archives, functions, schedules
from kontinue.cli._context import connection_options
from kontinue.cli._dev import dev
from kontinue.cli._executions import cancel, execute, list_executions, logs, resume, show
from kontinue.cli._history import export, replay
from kontinue.cli._retry import fork, retry
from kontinue.cli._signal import signal


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kontinue")
@connection_options
def cli() -> None:
    """kontinue: start, watch, approve and debug durable workflows on Kubernetes.

    Connection flags (-n, --context, --kubeconfig) go before or after the command.
    """


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script (e.g. `source <(kontinue completion bash)`)."""
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    if completer is None:
        raise click.UsageError(f"no completion for {shell}")
    click.echo(completer(cli, {}, "kontinue", "_KONTINUE_COMPLETE").source())


for command in (
    execute, list_executions, show, resume, cancel, logs, functions, schedules, archives, bench,
    completion, dev, export, replay, retry, fork, signal,
):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``kontinue`` and ``kubectl-kontinue`` scripts."""
    cli(prog_name="kontinue")
