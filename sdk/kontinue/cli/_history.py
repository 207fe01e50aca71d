"""Histories: export an execution's recorded history, replay today's code against it.

``kontinue export NAME -o FILE`` writes the history (see :mod:`kontinue.api.history`);
``kontinue replay FILE --module M`` runs the function the history's execution ran, as module
``M`` defines it today, against that history with no side effect. Exit codes of replay: 0 the
code is compatible with the history, 1 it is not (a step differs, or the code fails where the
execution went on), 2 bad input (unreadable history, unknown module or function).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import NoReturn

import click

from kontinue import errors
from kontinue.api import history as history_format
from kontinue.cli._context import client, connection_options, handles_errors
from kontinue.engine.registry import FunctionRegistry, default_registry
from kontinue.testing import replay as replay_history

EXIT_INCOMPATIBLE = 1
EXIT_BAD_INPUT = 2


@click.command("export")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="File to write (default: standard output).",
)
@click.option("--no-logs", is_flag=True, help="Leave out what the Jobs' pods printed.")
@connection_options
@handles_errors("execution not found")
def export(name: str, output: str | None, no_logs: bool) -> None:
    """Write an execution's complete history (steps, children, suspensions, Jobs) as JSON."""
    document = client().export_history(name, logs=not no_logs)
    text = history_format.dumps(document)
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    steps = len(history_format.parse(document).steps)
    click.echo(f"wrote the history of {name} ({steps} steps) to {output}", err=True)


def _bad_input(message: str) -> NoReturn:
    click.echo(f"kontinue: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _load(modules: tuple[str, ...], path: tuple[str, ...]) -> FunctionRegistry:
    for entry in reversed(path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure is bad input
            _bad_input(f"cannot import workflow module {module!r}: {exc}")
    return default_registry


@click.command("replay")
@click.argument("history", type=click.Path(dir_okay=False))
@click.option(
    "-m",
    "--module",
    "modules",
    multiple=True,
    required=True,
    help="Workflow module defining the function, as today's code has it (repeatable).",
)
@click.option(
    "--path",
    "paths",
    multiple=True,
    default=(".",),
    show_default=True,
    help="Path to import the modules from (repeatable).",
)
@click.option("-f", "--function", help="Function to replay (default: the one the execution ran).")
def replay(history: str, modules: tuple[str, ...], paths: tuple[str, ...],
           function: str | None) -> None:  # fmt: skip
    """Replay today's code against an exported history, offline and with no side effect.

    Exit code 0: the code follows the history (it may go on past its end); 1: a step differs
    from the history (named), or the code fails where the execution went on; 2: bad input.
    """
    try:
        parsed = history_format.load(history)
    except history_format.HistoryError as exc:
        _bad_input(str(exc))
    registry = _load(modules, paths)
    try:
        result = replay_history(parsed, function, registry=registry)
    except errors.ValidationError as exc:
        _bad_input(str(exc))
    head = f"{parsed.name} ({result.function}):"
    if result.compatible:
        click.echo(f"{head} compatible: {result.message}")
        return
    click.echo(f"{head} NOT compatible: {result.message}", err=True)
    sys.exit(EXIT_INCOMPATIBLE)
