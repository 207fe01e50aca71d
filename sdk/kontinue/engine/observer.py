"""The seam through which a worker watches the steps an attempt runs (spans, metrics).

Invariant: a step is observed only in the attempt that does its work: the store function runs,
the child, suspension or Job is created and awaited. A step the replay finds completed in the
history returns its recorded result unobserved, so a replayed attempt does not report the
steps of earlier attempts again. The engine itself knows nothing of OpenTelemetry or Prometheus.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class StepObserver(Protocol):
    """Told of every step an attempt runs."""

    def step(self, name: str, step_type: str) -> AbstractContextManager[None]:
        """A scope around the step's work; it sees the exception that ends the step, if any."""
        ...
