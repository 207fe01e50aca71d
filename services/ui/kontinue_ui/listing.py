"""The executions list as a query: filters, sort order and one page, over cached summaries.

Pure functions of a snapshot, so a page of 10,000 executions costs one pass in memory.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from kontinue_ui import selectors
from kontinue_ui.cache import Summary

SORTS: dict[str, Callable[[Summary], Any]] = {
    "created": lambda s: (s.created or datetime.min.replace(tzinfo=UTC), s.name),
    "name": lambda s: (s.name, s.namespace),
    "phase": lambda s: (s.phase, s.name),
    "function": lambda s: (s.function, s.name),
    "duration": lambda s: duration_seconds(s) or 0.0,
}
"""The sort keys the list offers (``created`` is the default, newest first)."""


@dataclass(frozen=True)
class Query:
    """One view of the list: what the filter form and the column headers ask for."""

    phase: str = ""
    function: str = ""
    namespace: str = ""
    label: str = ""
    text: str = ""
    sort: str = "created"
    descending: bool = True
    page: int = 1
    roots_only: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Query:
        """The query a request's parameters name (unknown or malformed values fall back)."""
        sort = args.get("sort", "created")
        try:
            page = max(1, int(args.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            phase=args.get("phase", "").strip(),
            function=args.get("function", "").strip(),
            namespace=args.get("namespace", "").strip(),
            label=args.get("label", "").strip(),
            text=args.get("q", "").strip(),
            sort=sort if sort in SORTS else "created",
            descending=args.get("order", "desc") != "asc",
            page=page,
            roots_only=args.get("roots") == "1",
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """This query as URL parameters (defaults left out), with ``changes`` applied."""
        query = replace(self, **changes)
        params = {
            "phase": query.phase,
            "function": query.function,
            "namespace": query.namespace,
            "label": query.label,
            "q": query.text,
            "sort": "" if query.sort == "created" else query.sort,
            "order": "" if query.descending else "asc",
            "page": "" if query.page == 1 else str(query.page),
            "roots": "1" if query.roots_only else "",
        }
        return {k: v for k, v in params.items() if v}


@dataclass(frozen=True)
class Page:
    """One page of the filtered, sorted list."""

    rows: Sequence[Summary]
    total: int
    page: int
    pages: int
    counts: Mapping[str, int]
    """Executions per phase among those matching every filter but the phase."""

    @property
    def token(self) -> str:
        """Changes whenever what the page shows changes (the live refresh compares it)."""
        digest = hashlib.blake2b(digest_size=12)
        digest.update(f"{self.total}|{self.page}|{sorted(self.counts.items())}".encode())
        for row in self.rows:
            digest.update(f"|{row.namespace}/{row.name}@{row.resource_version}".encode())
        return digest.hexdigest()


def duration_seconds(summary: Summary, now: datetime | None = None) -> float | None:
    """Seconds from start to finish (or to now, while it runs); None before it starts."""
    if summary.started is None:
        return None
    end = summary.finished or now or datetime.now(UTC)
    return max(0.0, (end - summary.started).total_seconds())


def _matcher(query: Query) -> Callable[[Summary], bool]:
    """Every filter except the phase (the phase counts are computed over this set)."""
    checks: list[Callable[[Summary], bool]] = []
    if query.function:
        checks.append(lambda s: s.function == query.function)
    if query.namespace:
        checks.append(lambda s: s.namespace == query.namespace)
    if query.label:
        selector = selectors.parse(query.label)
        checks.append(lambda s: selector(s.labels))
    if query.text:
        needle = query.text.lower()
        checks.append(
            lambda s: (
                needle in s.name.lower()
                or needle in s.function.lower()
                or needle in s.message.lower()
            )
        )
    if query.roots_only:
        checks.append(lambda s: s.parent is None)
    return lambda s: all(check(s) for check in checks)


def run(summaries: Iterable[Summary], query: Query, page_size: int) -> Page:
    """Filter, count, sort and cut one page.

    Raises:
        kontinue_ui.selectors.SelectorError: the label filter is not a selector.
    """
    matches = _matcher(query)
    counts: dict[str, int] = {}
    selected: list[Summary] = []
    for summary in summaries:
        if not matches(summary):
            continue
        counts[summary.phase] = counts.get(summary.phase, 0) + 1
        if not query.phase or summary.phase == query.phase:
            selected.append(summary)
    key = SORTS[query.sort]
    if query.sort == "duration":
        now = datetime.now(UTC)
        selected.sort(key=lambda s: duration_seconds(s, now) or 0.0, reverse=query.descending)
    else:
        selected.sort(key=key, reverse=query.descending)
    pages = max(1, math.ceil(len(selected) / page_size))
    page = min(query.page, pages)
    start = (page - 1) * page_size
    return Page(selected[start : start + page_size], len(selected), page, pages, counts)


def matching(summaries: Iterable[Summary], query: Query) -> list[Summary]:
    """Every summary the query's filters match (the phase too; no sort order, no page).

    What "select all matching" acts on, ordered by namespace and name.

    Raises:
        kontinue_ui.selectors.SelectorError: the label filter is not a selector.
    """
    matches = _matcher(query)
    found = [s for s in summaries if matches(s) and (not query.phase or s.phase == query.phase)]
    return sorted(found, key=lambda s: (s.namespace, s.name))
