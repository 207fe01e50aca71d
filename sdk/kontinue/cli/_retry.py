"""Commands that run a finished execution again: retry (in place) and fork (as a new one)."""

from __future__ import annotations

import sys

import click

from kontinue.cli import _bulk, _render
from kontinue.cli._context import client, connection_options, fail, handles_errors
from kontinue.cli._steps import outcome_exit, print_outcome
from kontinue.client import ForkRefused, RetryRefused, WaitTimeout, bulk

EXIT_WAIT_TIMEOUT = 4


def _wait(name: str, timeout: float | None, *, retried: bool = False) -> None:
    """Wait for the outcome of ``name`` (``retried``: of its retry), print it, exit with it."""
    try:
        if retried:
            finished = client().wait_retried(name, timeout=timeout)
        else:
            finished = client().wait(name, timeout=timeout)
    except WaitTimeout as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_WAIT_TIMEOUT)
    print_outcome(finished)
    sys.exit(outcome_exit(finished))


@click.command()
@click.argument("names", metavar="[NAME]...", nargs=-1)
@click.option(
    "--version",
    "worker_version",
    metavar="VERSION",
    help="Run the retry on workers of this version (new code, e.g. a bug fix); by default it "
    "stays on the version it is pinned to.",
)
@click.option("--wait", is_flag=True, help="Wait for the outcome; the exit code reflects it.")
@click.option("--wait-timeout", type=float, help="Give up waiting after this many seconds.")
@_bulk.selection_options
@click.option("-o", "--output", type=click.Choice(_bulk.OUTPUTS))
@connection_options
@handles_errors("retry")
def retry(
    names: tuple[str, ...], worker_version: str | None, wait: bool, wait_timeout: float | None,
    selector: str | None, functions: tuple[str, ...], phases: tuple[str, ...],
    all_namespaces: bool, every: bool, dry_run: bool, yes: bool, output: str | None,
) -> None:  # fmt: skip
    """Retry a Failed or Canceled execution in place, from its first unfinished step.

    The steps it committed replay with their recorded results; the step that failed (or was
    interrupted) and everything after it run again, in a new attempt. With a selection (-l,
    --function, --phase, -A, --all or several NAMEs), every Failed or Canceled execution
    selected, reported execution by execution.
    """
    flags = _bulk.Flags(selector, functions, phases, all_namespaces, every, dry_run, yes)
    if len(names) != 1 or flags.selecting or dry_run:
        if wait:
            fail("--wait is for one NAME")
        _bulk.act(
            "retry", names, flags, output or "table",
            lambda c, targets, dry: c.retry_many(targets, version=worker_version, dry_run=dry),
            bulk.retryable,
        )  # fmt: skip
    if output == "table":
        fail("-o table is for a selection; one NAME prints name, json or yaml")
    name = names[0]
    try:
        updated = client().request_retry(name, version=worker_version)
    except RetryRefused as exc:
        fail(str(exc))
    if output not in (None, "name"):
        _render.dump(updated, output)
    else:
        click.echo(f"execution.kontinue.cloud/{name} retry requested")
    if wait:
        _wait(name, wait_timeout, retried=True)


@click.command()
@click.argument("name")
@click.option(
    "--from-step",
    "from_step",
    required=True,
    metavar="STEP",
    help="The first step the fork runs: a step name, or its number (1 is the first step).",
)
@click.option("--name", "new_name", help="Name of the new execution (default: NAME-fork-xxxxx).")
@click.option(
    "--version",
    "worker_version",
    metavar="VERSION",
    help="Run the fork on workers of this version only (the fixed code); by default any "
    "worker that takes new executions runs it.",
)
@click.option("--wait", is_flag=True, help="Wait for the outcome; the exit code reflects it.")
@click.option("--wait-timeout", type=float, help="Give up waiting after this many seconds.")
@click.option("-o", "--output", type=click.Choice(["name", "json", "yaml"]), default="name")
@connection_options
@handles_errors("fork")
def fork(
    name: str,
    from_step: str,
    new_name: str | None,
    worker_version: str | None,
    wait: bool,
    wait_timeout: float | None,
    output: str,
) -> None:
    """Start a new execution from NAME's history before a step; NAME is left as it is.

    The steps before STEP replay with NAME's recorded results; STEP and everything after it
    run (on the code the workers run now).
    """
    try:
        created = client().fork(name, from_step, new_name=new_name, version=worker_version)
    except ForkRefused as exc:
        fail(str(exc))
    forked = created["metadata"]["name"]
    if output != "name":
        _render.dump(created, output)
    else:
        click.echo(f"execution.kontinue.cloud/{forked} forked from {name}")
    if wait:
        _wait(forked, wait_timeout)
