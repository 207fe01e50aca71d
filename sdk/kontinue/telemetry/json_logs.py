"""Structured logs: one JSON object per line, with trace and execution ids.

Every record carries ``time``, ``level``, ``logger`` and ``message`` (and ``exception`` with the
traceback); inside a span, ``trace_id`` and ``span_id`` (hex, as trace viewers show them); while
a worker runs an execution (:func:`execution_scope`), ``namespace``, ``execution`` and
``function``, so the logs of one workflow can be followed across workers and joined with its
trace.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

_execution: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "kontinue_execution", default=None
)


@contextmanager
def execution_scope(namespace: str, name: str, function: str) -> Iterator[None]:
    """Tag this thread's log records with an execution for the ``with`` block."""
    token = _execution.set({"namespace": namespace, "execution": name, "function": function})
    try:
        yield
    finally:
        _execution.reset(token)


class JsonLogFormatter(logging.Formatter):
    """Formats a record as one JSON line with trace and execution ids."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = f"{span.trace_id:032x}"
            entry["span_id"] = f"{span.span_id:016x}"
        entry.update(_execution.get() or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
