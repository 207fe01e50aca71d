"""Bulk ``cancel`` and ``resume``: the selection flags, the confirmation and the report.

``kontinue cancel -l team=payments --phase Executing`` selects executions (``-l``,
``--function``, ``--phase``, ``-A``, ``--all`` or several NAMEs) and acts on each; the report
has one row per execution: done, skipped (and why), refused (403) or failed (the error).

- Exit codes: 0 when nothing failed or was refused, 1 when something did,
  :data:`EXIT_NOTHING_MATCHED` when the selection matched no execution.
- ``--dry-run`` lists what would be done and writes nothing.
- In a terminal (standard input and output both), acting on more than
  :data:`CONFIRM_ABOVE` executions asks first; ``--yes`` does not ask. Piped or in a script it
  never asks, as ``kubectl delete -l`` does not.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from kontinue.cli import _render
from kontinue.cli._context import client, fail
from kontinue.client import BulkReport, Client, Outcome, Result, Selection, bulk

EXIT_NOTHING_MATCHED = 3
"""Exit code of a bulk action whose selection matched no execution."""
CONFIRM_ABOVE = 10
"""In a terminal, acting on more executions than this asks first (unless ``--yes``)."""
OUTPUTS = ("table", "name", "json", "yaml")

_RESULT_STYLE = {
    Result.DONE: "green",
    Result.PLANNED: "cyan",
    Result.SKIPPED: "dim",
    Result.REFUSED: "red",
    Result.FAILED: "red",
}


@dataclass(frozen=True)
class Flags:
    """The selection flags of one bulk command line."""

    selector: str | None
    functions: tuple[str, ...]
    phases: tuple[str, ...]
    all_namespaces: bool
    every: bool
    dry_run: bool
    yes: bool

    @property
    def selecting(self) -> bool:
        """True when a flag selects executions (not only NAMEs)."""
        return bool(
            self.selector or self.functions or self.phases or self.all_namespaces or self.every
        )


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The flags that select executions and steer a bulk action."""
    options = [
        click.option("-l", "--selector", help="Label selector (e.g. team=payments,tier!=canary)."),
        click.option("--function", "functions", multiple=True,
                     help="Only executions of this function (repeatable)."),
        click.option("--phase", "phases", multiple=True,
                     help="Only executions in this phase (repeatable, or a comma list)."),
        click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace."),
        click.option("--all", "every", is_flag=True,
                     help="Every execution of the namespace (no other condition needed)."),
        click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing."),
        click.option("-y", "--yes", is_flag=True,
                     help=f"Do not ask before acting on more than {CONFIRM_ABOVE} executions."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def selection(names: Sequence[str], flags: Flags) -> Selection:
    """The :class:`Selection` the NAMEs and flags describe (a clear error when they clash)."""
    if not names and not flags.selecting:
        fail("give NAME, or select executions with -l, --function, --phase or --all")
    try:
        return Selection(
            namespace=client().namespace,
            all_namespaces=flags.all_namespaces,
            label_selector=flags.selector,
            functions=tuple(dict.fromkeys(flags.functions)),
            phases=bulk.parse_phases(flags.phases),
            names=tuple(names),
        )
    except ValueError as exc:
        fail(str(exc))


def act(
    action: str,
    names: Sequence[str],
    flags: Flags,
    output: str,
    run: Callable[[Client, Sequence[dict[str, Any]], bool], BulkReport],
    eligible: bulk.Eligibility,
) -> NoReturn:
    """Select, confirm, run ``run`` on the selected executions, print the report, exit."""
    chosen = selection(names, flags)
    c = client()
    executions = c.select(chosen)
    found = {e["metadata"]["name"] for e in executions}
    missing = [
        Outcome(c.namespace, n, "", Result.FAILED, "not found") for n in names if n not in found
    ]
    described = chosen.describe(c.namespace)
    if not executions and not missing:
        click.echo(f"kontinue: no execution matches ({described}); nothing was done", err=True)
        sys.exit(EXIT_NOTHING_MATCHED)
    acting = sum(1 for e in executions if eligible(e) is None)
    if not flags.dry_run and not flags.yes and acting > CONFIRM_ABOVE and _interactive():
        question = f"{action.capitalize()} {acting} executions ({described})?"
        if not click.confirm(question, default=False, err=True):
            fail("nothing was done")
    report = run(c, executions, flags.dry_run)
    report = BulkReport(report.action, [*report.outcomes, *missing], report.dry_run)
    show(report, output, wide=flags.all_namespaces)
    sys.exit(0 if report.ok else 1)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def show(report: BulkReport, output: str, *, wide: bool) -> None:
    """Print ``report``: a table (one row per execution, then a summary), names, or JSON/YAML."""
    if output in ("json", "yaml"):
        _render.dump(report.to_json(), output)
        return
    if output == "name":
        for outcome in report.outcomes:
            if outcome.result in (Result.DONE, Result.PLANNED):
                click.echo(f"execution.kontinue.cloud/{_render.clean(outcome.name)}")
    else:
        headers = ["NAME", "PHASE", "RESULT", "MESSAGE"]
        if wide:
            headers.insert(0, "NAMESPACE")
        rows: list[list[Any]] = []
        for outcome in report.outcomes:
            row: list[Any] = [
                outcome.name, _render.phase_text(outcome.phase) if outcome.phase else "",
                _render.plain(outcome.result.value, _RESULT_STYLE[outcome.result]),
                outcome.detail,
            ]  # fmt: skip
            if wide:
                row.insert(0, outcome.namespace)
            rows.append(row)
        _render.table(headers, rows)
    click.echo(report.summary(), err=output == "name")
