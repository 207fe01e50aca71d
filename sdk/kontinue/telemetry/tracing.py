"""The services' OpenTelemetry tracer, and spans with fixed ids.

:func:`configure_tracing` reads the standard variables:

- ``OTEL_SDK_DISABLED=true``: off.
- ``OTEL_TRACES_EXPORTER`` (comma-separated): ``otlp`` (OTLP over HTTP/protobuf to
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``, batched),
  ``console`` (stdout), ``jsonl`` (kontinue's own: one JSON line per span in
  ``$KONTINUE_TRACES_FILE``, written as each span ends), ``none``. Unset: ``otlp`` when an
  OTLP endpoint is set, else tracing is off.
- ``OTEL_SERVICE_NAME`` (default: the service's name), ``OTEL_RESOURCE_ATTRIBUTES``,
  ``OTEL_TRACES_SAMPLER`` and the exporters' own ``OTEL_EXPORTER_OTLP_*`` settings.

When tracing is off every function here is a cheap no-op.

Execution and attempt spans are emitted once they are over (:func:`emit_span`), with ids
derived from the Execution (:mod:`kontinue.telemetry.trace_ids`): whoever ends them (the worker
that finishes an attempt, the controller that takes a dead worker's attempt over) names the same
span, and the spans that hang under them while they run use :func:`parent_context`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from kontinue.telemetry.jsonl_exporter import FILE_ENV, JsonLinesSpanExporter

log = logging.getLogger(__name__)

INSTRUMENTATION = "kontinue"

_fixed = threading.local()
_provider: TracerProvider | None = None


class FixedIdGenerator(RandomIdGenerator):
    """Random ids, except the ones :func:`emit_span` asks for on this thread."""

    def generate_span_id(self) -> int:
        """The fixed span id if one is pending on this thread, else a random one."""
        span_id: int | None = getattr(_fixed, "span_id", None)
        if span_id is not None:
            _fixed.span_id = None
            return span_id
        return super().generate_span_id()

    def generate_trace_id(self) -> int:
        """The fixed trace id if one is pending on this thread, else a random one."""
        trace_id: int | None = getattr(_fixed, "trace_id", None)
        if trace_id is not None:
            _fixed.trace_id = None
            return trace_id
        return super().generate_trace_id()


def _exporter_names() -> list[str]:
    raw = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if raw:
        return [n.strip() for n in raw.split(",") if n.strip() and n.strip() != "none"]
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return ["otlp"] if endpoint else []


def _processor(name: str) -> SpanProcessor | None:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter())
    if name == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter())
    if name == "jsonl":
        path = os.environ.get(FILE_ENV)
        if not path:
            log.warning("OTEL_TRACES_EXPORTER=jsonl needs $%s; not exporting there", FILE_ENV)
            return None
        return SimpleSpanProcessor(JsonLinesSpanExporter(path))
    log.warning("unknown trace exporter %r (otlp, console, jsonl or none)", name)
    return None


def configure_tracing(service_name: str, instance: str | None = None) -> bool:
    """Set up the global tracer provider from the ``OTEL_*`` environment.

    Args:
        service_name: ``service.name`` unless ``OTEL_SERVICE_NAME`` says otherwise.
        instance: ``service.instance.id`` (the worker's or replica's name).

    Returns:
        Whether tracing is on.
    """
    global _provider
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    processors = [p for p in map(_processor, _exporter_names()) if p is not None]
    if not processors:
        return False
    attributes: dict[str, str] = {SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service_name}
    if instance:
        attributes[SERVICE_INSTANCE_ID] = instance
    provider = TracerProvider(resource=Resource.create(attributes), id_generator=FixedIdGenerator())
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def enabled() -> bool:
    """Whether :func:`configure_tracing` turned tracing on in this process."""
    return _provider is not None


def tracer() -> trace.Tracer:
    """The kontinue tracer (a no-op one while tracing is off)."""
    if _provider is None:
        return trace.NoOpTracer()
    return _provider.get_tracer(INSTRUMENTATION)


def flush(timeout_millis: int = 5000) -> None:
    """Export what is buffered (before a graceful exit)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis)


def parent_context(trace_id: int, span_id: int) -> otel_context.Context:
    """A context whose current span is the (remote, sampled) span ``span_id`` of ``trace_id``."""
    parent = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(1))
    return trace.set_span_in_context(NonRecordingSpan(parent), otel_context.Context())


@contextmanager
def current(ctx: otel_context.Context) -> Iterator[None]:
    """Make ``ctx`` the current context of this thread for the ``with`` block."""
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


def emit_span(
    name: str,
    *,
    trace_id: int,
    span_id: int,
    parent_span_id: int | None,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, Any],
    error: str | None = None,
) -> None:
    """Export a span that is already over, with the given ids and times.

    Args:
        name: the span's name.
        trace_id: its trace.
        span_id: its (deterministic) id.
        parent_span_id: the span it hangs under, None for the root of the trace.
        start_ns: start time, ns since the epoch.
        end_ns: end time, ns since the epoch (at least ``start_ns``).
        attributes: its attributes (None values are left out).
        error: when set, the span's status is ERROR with this description.
    """
    if _provider is None:
        return
    if parent_span_id is None:
        parent = otel_context.Context()
        _fixed.trace_id = trace_id
    else:
        parent = parent_context(trace_id, parent_span_id)
    _fixed.span_id = span_id
    try:
        span = tracer().start_span(
            name,
            context=parent,
            start_time=start_ns,
            attributes={k: v for k, v in attributes.items() if v is not None},
        )
    finally:
        _fixed.span_id = None
        _fixed.trace_id = None
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end(end_time=max(end_ns, start_ns))


def context_of(span: trace.Span) -> otel_context.Context:
    """This thread's context with ``span`` as the current span."""
    return trace.set_span_in_context(span)
