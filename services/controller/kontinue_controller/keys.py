"""How the controller names the objects it follows and keys its timers."""

from __future__ import annotations

Key = tuple[str, str, str]
"""An object as the controller keys it: kind, namespace, name.

Timers use it too, with kinds of their own for what is not one object (``Mutex``,
``FunctionSlots``).
"""
