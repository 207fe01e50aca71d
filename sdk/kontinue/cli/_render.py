r"""Output: kubectl-like tables, ages and durations, and ``-o json|yaml|name``.

Text that comes from the cluster (names, messages, errors, results: anything a namespace user
or a workflow wrote) is never read as rich markup, and its control characters (ESC, BEL, CR,
backspace, C1 codes, bidirectional overrides) are shown as escapes (ESC as the text ``\x1b``)
instead of reaching the terminal: a message cannot restyle the output, hide text, move the
cursor, set the window title or crash the renderer. Tables and trees are built from
:class:`rich.text.Text` pieces; plain lines go through :func:`clean`.
"""

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


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Characters a terminal would act on rather than show (newline and tab are kept)."""


def clean(value: object) -> str:
    r"""``value`` as text safe to print: control characters become ``\xNN`` escapes."""

    def visible(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(visible, str(value))


def console() -> Console:
    """A console on standard output (no colour when it is not a terminal, no emoji codes)."""
    return Console(highlight=False, soft_wrap=False, emoji=False)


def plain(value: object, style: str = "") -> Text:
    """Cluster text as a rich Text: never parsed as markup, control characters escaped."""
    return Text(clean(value), style=style)


def phase_text(phase: str | None) -> Text:
    """A phase with its colour."""
    phase = phase or "Pending"
    return plain(phase, _PHASE_STYLE.get(phase, ""))


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


def _cell(value: str | Text) -> Text:
    """A cell: a styled Text as it is (a phase), a string as plain cluster text (:func:`plain`)."""
    return value.copy() if isinstance(value, Text) else plain(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[str | Text]]) -> None:
    """Print a table as kubectl does: plain columns, no rules, one line per row.

    No cell is ever wrapped, so a name stays whole (and ``| awk`` or ``| cut`` work). Piped, the
    output is plain text; on a terminal the phases have their colours and, when a line would
    not fit, only the free-text columns (message, description) are cut.
    """
    out = console()
    cells = [[_cell(c) for c in row] for row in rows]
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
