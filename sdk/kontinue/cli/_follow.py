"""``--follow``: a live view of an execution until it ends.

Driven by a watch on the namespace's executions (the execution and its descendants): phase,
message, a progress bar, the steps as they complete and the children's phases. Ctrl-C
detaches; the execution goes on.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text

from kontinue.api import labels
from kontinue.api.phases import execution_phase
from kontinue.cli import _render
from kontinue.cli._steps import print_outcome, related, step_tree
from kontinue.client import Client

EXIT_DETACHED = 130


def _view(execution: dict[str, Any]) -> Group:
    status = execution.get("status") or {}
    parts: list[Any] = []
    progress = status.get("progress") or {}
    if progress.get("max"):
        current, total = int(progress.get("current") or 0), int(progress["max"])
        parts.append(ProgressBar(total=total, completed=current, width=40))
        parts.append(Text(f"{current}/{total}"))
    parts.append(step_tree(execution, related(execution["metadata"]["name"])))
    return Group(*parts)


def follow_execution(client: Client, name: str) -> dict[str, Any]:
    """Show ``name`` live until it finishes; return it finished (exit 130 on Ctrl-C)."""
    current = client.get(name)
    console = _render.console()
    try:
        with Live(_view(current), console=console, refresh_per_second=8, transient=False) as live:
            if execution_phase(current).terminal:
                return current
            for _, obj in client.watch():
                meta = obj["metadata"]
                in_tree = (
                    meta["name"] == name or (meta.get("labels") or {}).get(labels.ROOT) == name
                )
                if not in_tree:
                    continue
                if meta["name"] == name:
                    current = obj
                live.update(_view(current))
                if execution_phase(current).terminal:
                    break
    except KeyboardInterrupt:
        click.echo(f"\ndetached; {name} goes on (kontinue show {name})", err=True)
        sys.exit(EXIT_DETACHED)
    print_outcome(current)
    return current
