"""The first module of the worker-group test."""

from __future__ import annotations

import kontinue


@kontinue.function("whoami")
def whoami(ktx: kontinue.ExecutionContext) -> str:
    """Answers with this module's group."""
    return "green"
