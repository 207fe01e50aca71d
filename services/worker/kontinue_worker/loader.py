"""Loading the user's workflow modules into a registry."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from kontinue.engine.registry import FunctionRegistry, default_registry


class LoadError(RuntimeError):
    """A workflow module could not be imported, or registered nothing."""


def load(modules: list[str], *, path: list[str] | None = None) -> FunctionRegistry:
    """Import ``modules`` (their ``@kontinue.function``s register themselves)."""
    for entry in path or []:
        resolved = str(Path(entry).resolve())
        if resolved not in sys.path:
            sys.path.insert(0, resolved)
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - report any import failure the same way
            raise LoadError(f"cannot import workflow module {module!r}: {exc}") from exc
    if not len(default_registry):
        raise LoadError(f"no @kontinue.function found in {', '.join(modules)}")
    return default_registry
