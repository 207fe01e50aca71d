"""Output: kubectl-like tables, ages and durations, and ``-o json|yaml|name``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click
import yaml
from rich.console import Console
from rich.text import Text

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


FLEXIBLE = ("MESSAGE", "DESCRIPTION")
"""Columns that give up width (cut with an ellipsis) when a terminal is too narrow."""

_GAP = "   "


_STYLED = re.compile(r"^\[(?P<style>[a-z ]+)\](?P<text>[^\[\]]*)\[/(?P=style)\]$")


def _cell(text: str) -> Text:
    """A cell's text: a phase in its colour (:func:`phase_text`), else literally what it says."""
    styled = _STYLED.match(text)
    if styled:
        return Text(styled["text"], style=styled["style"])
    return Text(text)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Print a table as kubectl does: plain columns, no rules, one line per row.

    No cell is ever wrapped, so a name stays whole (and ``| awk`` or ``| cut`` work). Piped, the
    output is plain text; on a terminal the phases have their colours and, when a line would
    not fit, only the free-text columns (message, description) are cut.
    """
    out = console()
    cells = [[_cell(str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], cell.cell_len)
    if out.is_terminal:
        over = sum(widths) + len(_GAP) * (len(widths) - 1) - out.width
        for index in reversed(range(len(headers))):
            if over <= 0:
                break
            if headers[index] in FLEXIBLE:
                keep = max(len(headers[index]), 12)
                cut = min(over, widths[index] - keep)
                if cut > 0:
                    widths[index] -= cut
                    over -= cut
    lines = [Text(_GAP.join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())]
    for row in cells:
        line = Text()
        for index, (cell, width) in enumerate(zip(row, widths, strict=True)):
            if cell.cell_len > width:
                cell.truncate(width, overflow="ellipsis")
            if index:
                line.append(_GAP)
            line.append_text(cell)
            if index < len(row) - 1:
                line.append(" " * (width - cell.cell_len))
        line.rstrip()
        lines.append(line)
    for line in lines:
        if out.is_terminal:
            out.print(line, soft_wrap=True, overflow="ignore", crop=False)
        else:
            click.echo(line.plain)


def dump(data: Any, output: str) -> None:
    """Print ``data`` as JSON or YAML."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


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
