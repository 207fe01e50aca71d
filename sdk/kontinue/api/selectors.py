"""Kubernetes label selectors (``a=b,c!=d,e in (f,g),!h``), parsed once and matched in memory.

The executions list of the UI filters its watch-fed cache with them, and the client's listing
matches the part of a selector the API server cannot answer: the labels a workflow set while
running live in the status (:mod:`kontinue.api.workflow_labels`), where a server-side label
selector does not look. :func:`split` separates what the server can select (requirements on
``kontinue.cloud/`` keys, which only metadata labels carry) from what is matched here against
an execution's search labels (its metadata labels and the workflow's together).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kontinue.api import labels

Requirement = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_COMPARE = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")


class SelectorError(ValueError):
    """The selector text is not a label selector."""


@dataclass(frozen=True)
class Term:
    """One requirement of a selector: ``key op values``."""

    key: str
    op: str
    """``in``, ``notin``, ``=``, ``!=``, ``exists`` or ``!exists``."""
    values: frozenset[str] = frozenset()

    def matches(self, found: Mapping[str, str]) -> bool:
        """Whether the labels ``found`` satisfy this requirement."""
        value = found.get(self.key)
        if self.op in ("in", "="):
            return value in self.values
        if self.op in ("notin", "!="):
            return value not in self.values
        if self.op == "exists":
            return self.key in found
        return self.key not in found

    def text(self) -> str:
        """The requirement in selector syntax."""
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        if self.op in ("=", "!="):
            return f"{self.key}{self.op}{next(iter(self.values))}"
        return self.key if self.op == "exists" else f"!{self.key}"


def _split_commas(text: str) -> list[str]:
    """Split on the commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def _term(text: str) -> Term:
    if match := _SET.match(text):
        key, op, raw = match.groups()
        return Term(key, op, frozenset(v.strip() for v in raw.split(",") if v.strip()))
    if match := _COMPARE.match(text):
        key, op, value = match.groups()
        return Term(key, "!=" if op == "!=" else "=", frozenset({value}))
    if match := _EXISTS.match(text):
        negate, key = match.groups()
        return Term(key, "!exists" if negate else "exists")
    raise SelectorError(f"not a label selector: {text.strip()!r}")


def terms(text: str) -> list[Term]:
    """The requirements of a selector; raises :class:`SelectorError` for bad syntax."""
    return [_term(part) for part in _split_commas(text)]


def parse(text: str) -> Requirement:
    """A predicate over a labels mapping; raises :class:`SelectorError` for bad syntax."""
    found = terms(text)
    return lambda given: all(t.matches(given) for t in found)


def split(text: str | None) -> tuple[str | None, Requirement | None]:
    """What the API server selects, and what is left to match against the search labels.

    Requirements on ``kontinue.cloud/`` keys go to the server (only metadata labels carry
    those); every other requirement may be met by a workflow's label, so it is matched in
    memory against each listed execution's search labels. Either part may be None.

    Raises:
        SelectorError: the text is not a label selector.
    """
    if not text or not text.strip():
        return None, None
    found = terms(text)
    server = [t for t in found if t.key.startswith(f"{labels.PREFIX}/")]
    local = [t for t in found if not t.key.startswith(f"{labels.PREFIX}/")]
    server_text = ",".join(t.text() for t in server) or None
    if not local:
        return server_text, None
    return server_text, lambda given: all(t.matches(given) for t in local)
