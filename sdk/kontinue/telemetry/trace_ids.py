"""Deterministic trace and span ids of executions, and the W3C ``traceparent`` carrying them.

Invariant: every id of an execution's own spans is derived from what the Execution object
holds (its uid, its claim counter, its ``kontinue.cloud/traceparent`` annotation), never from
process memory, so a worker that replays the execution after a crash, or the controller that
takes it over, names the very same spans:

- a root execution's trace id is its uid (a UUID is 128 bits, like a trace id), unless its
  creator annotated it with a ``traceparent`` of its own trace;
- an execution span's id is derived from the execution's uid;
- an attempt span's id (one per claim) from the uid and the claim counter;
- a child's annotation names its parent's trace and execution span.

Pure Python: the sdk writes the annotation on child creation even where OpenTelemetry is not
installed, so tracing can be switched on later without breaking a trace in two.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kontinue.api import labels

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class TraceParent:
    """A W3C trace context: the trace and the span new spans hang under."""

    trace_id: int
    span_id: int
    sampled: bool = True

    def header(self) -> str:
        """The ``traceparent`` header value (version 00)."""
        flags = "01" if self.sampled else "00"
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{flags}"


def parse_traceparent(text: str | None) -> TraceParent | None:
    """A ``traceparent`` value, or None when it is absent or malformed."""
    match = _TRACEPARENT.match((text or "").strip().lower())
    if match is None or match.group(1) == "ff":
        return None
    trace_id, span_id = int(match.group(2), 16), int(match.group(3), 16)
    if not trace_id or not span_id:
        return None
    return TraceParent(trace_id, span_id, sampled=bool(int(match.group(4), 16) & 1))


def _hash(bits: int, *parts: str) -> int:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[: bits // 8], "big") or 1


def root_trace_id(uid: str) -> int:
    """The trace id of a root execution: its uid (a hash of it if it is no UUID)."""
    try:
        value = uuid.UUID(uid).int
    except ValueError:
        value = 0
    return value or _hash(128, "trace", uid)


def execution_span_id(uid: str) -> int:
    """The id of an execution's span (from creation to its terminal phase)."""
    return _hash(64, "execution", uid)


def attempt_span_id(uid: str, claim: int) -> int:
    """The id of the span of one claim of an execution (one run of it in a worker)."""
    return _hash(64, "attempt", uid, str(claim))


@dataclass(frozen=True)
class ExecutionTrace:
    """Where an execution's spans go: its trace, its own span, and that span's parent."""

    trace_id: int
    span_id: int
    parent_span_id: int | None

    def child_traceparent(self) -> str:
        """The annotation value of a child this execution creates."""
        return TraceParent(self.trace_id, self.span_id).header()


def execution_trace(execution: Mapping[str, Any]) -> ExecutionTrace:
    """The trace of an Execution object (its annotation, else its uid)."""
    meta = execution.get("metadata") or {}
    uid = str(meta.get("uid") or meta.get("name") or "")
    carried = parse_traceparent((meta.get("annotations") or {}).get(labels.TRACEPARENT))
    own = execution_span_id(uid)
    if carried is None:
        return ExecutionTrace(root_trace_id(uid), own, None)
    return ExecutionTrace(carried.trace_id, own, carried.span_id)
