"""A second module for the worker-group test: same function name, different answer."""

from __future__ import annotations

import kontinue


@kontinue.function("whoami")
def whoami(ktx: kontinue.ExecutionContext) -> str:
    """Answers with this module's group."""
    return "blue"
