"""Kubernetes label selectors (``a=b,c!=d,e in (f,g),!h``), parsed once and matched in memory.

The executions list filters the watch-fed cache with the same selector syntax kubectl takes,
against each execution's search labels (its metadata labels and those its workflow set). The
parser is the SDK's (:mod:`kontinue.api.selectors`), which the client's listing uses too.
"""

from __future__ import annotations

from kontinue.api.selectors import Requirement, SelectorError, parse

__all__ = ["Requirement", "SelectorError", "parse"]
