"""Output: kubectl-like tables, ages and durations, and ``-o json|yaml|name``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click
import yaml
from rich import box
from rich.console import Console
from rich.table import Table

from kontinue.api import nesting
from kontinue.api.timestamps import parse_time

FORMATS = ("table", "wide", "json", "yaml", "name")

_PHASE_STYLE = {
    "Completed": "green",
    "Failed": "red",
    "Canceled": "yellow",
    "Skipped": "dim",
    "Executing": "cyan",
    "Suspended": "magenta",
    "Backoff": "yellow",
    "Pending": "blue",
}


def console() -> Console:
    """A console on standard output (no colour when it is not a terminal)."""
    return Console(highlight=False, soft_wrap=False)


def phase_text(phase: str | None) -> str:
    """A phase with its colour (rich markup)."""
    phase = phase or "Pending"
    style = _PHASE_STYLE.get(phase)
    return f"[{style}]{phase}[/{style}]" if style else phase


def human_duration(seconds: float) -> str:
    """``45s``, ``3m12s``, ``2h5m``, ``3d4h`` (kubectl's ages)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60}s" if seconds < 600 else f"{seconds // 60}m"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours}h{minutes}m" if minutes and hours < 10 else f"{hours}h"
    days, hours = divmod(seconds // 3600, 24)
    return f"{days}d{hours}h" if hours and days < 10 else f"{days}d"


def age(stamp: str | None, now: datetime | None = None) -> str:
    """How long ago ``stamp`` was."""
    moment = parse_time(stamp)
    if moment is None:
        return "<unknown>"
    return human_duration(((now or datetime.now(UTC)) - moment).total_seconds())


def span(start: str | None, end: str | None) -> str:
    """The duration from ``start`` to ``end`` (to now while running), or empty."""
    first = parse_time(start)
    if first is None:
        return ""
    last = parse_time(end) or datetime.now(UTC)
    return human_duration((last - first).total_seconds())


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Print a borderless kubectl-style table."""
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        grid.add_column(header, overflow="fold")
    for row in rows:
        grid.add_row(*row)
    console().print(grid)


def dump(data: Any, output: str) -> None:
    """Print ``data`` as JSON or YAML (the deepest parts cut from a too-deep value)."""
    try:
        text = _dumps(data, output)
    except RecursionError:
        text = _dumps(nesting.defuse(data, limit=nesting.MAX_VALUE_DEPTH), output)
    click.echo(text)


def _dumps(data: Any, output: str) -> str:
    if output == "json":
        return json.dumps(data, indent=2, sort_keys=False)
    return yaml.safe_dump(data, sort_keys=False).rstrip()


def as_list(kind: str, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A kubectl-style List object."""
    return {"apiVersion": "kontinue.cloud/v1alpha1", "kind": f"{kind}List", "items": list(items)}


def emitted(kind: str, items: Sequence[Mapping[str, Any]], output: str, empty: str) -> bool:
    """Print ``items`` for ``-o json|yaml|name``, or ``empty`` when there are none.

    Returns True when that was all there is to print (a table is left to the caller).
    """
    if output in ("json", "yaml"):
        dump(as_list(kind, items), output)
        return True
    if output == "name":
        for item in items:
            click.echo(f"{kind.lower()}.kontinue.cloud/{item['metadata']['name']}")
        return True
    if not items:
        click.echo(empty, err=True)
        return True
    return False
