"""A span exporter that appends every finished span to a file as one JSON line.

Chosen with ``OTEL_TRACES_EXPORTER=jsonl`` and ``KONTINUE_TRACES_FILE=/path``. Each span is
written (one ``write`` of one line, in append mode) as soon as it ends, so several processes
can share the file and a process killed with SIGKILL loses only the spans it had not ended.
Meant for tests and local debugging; production uses OTLP.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

FILE_ENV = "KONTINUE_TRACES_FILE"
"""The file the ``jsonl`` exporter appends to."""


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as a JSON-ready dict (ids in lowercase hex, times in ns)."""
    context = span.context
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}" if context else None,
        "span_id": f"{context.span_id:016x}" if context else None,
        "parent_span_id": f"{parent.span_id:016x}" if parent else None,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "status": span.status.status_code.name,
        "status_description": span.status.description,
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": event.name, "attributes": dict(event.attributes or {})}
            for event in span.events
        ],
        "service": span.resource.attributes.get("service.name"),
    }


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to ``path``, one JSON object per line."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the spans (each one line, written at once)."""
        with self._lock:
            for span in spans:
                line = json.dumps(span_record(span), default=str, separators=(",", ":"))
                os.write(self._fd, (line + "\n").encode())
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
