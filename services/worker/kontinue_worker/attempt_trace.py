"""The spans and step metrics of one attempt: one claim of an execution run by this worker.

Span tree (ids from :mod:`kontinue.telemetry.trace_ids`, so a replay after a crash or the
controller's takeover names the same spans)::

    execution <function>          emitted when the execution ends (by the worker or controller)
      attempt <function>          one per claim, emitted when the claim ends
        step <type>               live spans of the steps this claim runs (not replayed ones)
          ...                     the workflow's own spans, if it uses OpenTelemetry
      execution <child function>  a child hangs under its parent's execution span

The attempt span is emitted once the claim is over, with the deterministic id its steps hung
under meanwhile. A claim taken from a dead worker is ended by the controller (error: taken
over); a worker that finds its claim taken over or fenced therefore emits no attempt span of
its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Status, StatusCode

from kontinue import errors
from kontinue.telemetry import trace_ids, tracing
from kontinue_worker import metrics


class AttemptTrace:
    """Spans and step metrics of one claim of ``execution`` (as claimed) by ``worker``."""

    def __init__(self, execution: Mapping[str, Any], worker: str) -> None:
        meta = execution["metadata"]
        status = execution.get("status") or {}
        self.function = str((execution.get("spec") or {}).get("function") or "")
        self._trace = trace_ids.execution_trace(execution)
        self._claim = int(status.get("claim") or 0)
        self._span_id = trace_ids.attempt_span_id(str(meta.get("uid")), self._claim)
        self._start_ns = time.time_ns()
        self._start = time.monotonic()
        self._attributes: dict[str, Any] = {
            "kontinue.function": self.function,
            "kontinue.execution": meta["name"],
            "kontinue.namespace": meta["namespace"],
            "kontinue.attempt": int(status.get("attempt") or 1),
            "kontinue.claim": self._claim,
            "kontinue.resumptions": int(status.get("resumptions") or 0),
            "kontinue.worker": worker,
        }
        self.steps_run = 0
        self._namespace = str(meta["namespace"])
        self._worker = worker

    def context(self) -> otel_context.Context:
        """The context the attempt's steps (and the workflow's own spans) hang under."""
        return tracing.parent_context(self._trace.trace_id, self._span_id)

    def active(self) -> AbstractContextManager[None]:
        """Make the attempt the current span of this thread for the ``with`` block."""
        return tracing.current(self.context())

    @contextmanager
    def step(self, name: str, step_type: str) -> Iterator[None]:
        """A span and a duration sample around the work of one step."""
        self.steps_run += 1
        started = time.monotonic()
        span = tracing.tracer().start_span(
            f"step {step_type}",
            attributes={
                **self._attributes,
                "kontinue.step.name": name,
                "kontinue.step.type": step_type,
            },
        )
        outcome = "completed"
        try:
            with tracing.current(tracing.context_of(span)):
                yield
        except errors.Released:
            outcome = "released"
            raise
        except (errors.Canceled, errors.Fenced) as exc:
            outcome = "canceled" if isinstance(exc, errors.Canceled) else "fenced"
            raise
        except BaseException as exc:
            outcome = "failed"
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            span.set_attribute("kontinue.step.outcome", outcome)
            span.end()
            metrics.STEP_DURATION.labels(type=step_type).observe(time.monotonic() - started)

    def end(self, outcome: str, error: BaseException | str | None = None) -> None:
        """The claim is over: record its duration and emit its span.

        Args:
            outcome: completed, failed, released, canceled, shutdown or broken; ``taken`` (the
                controller ends the span of a claim it takes over) and ``fenced`` emit no span.
            error: what failed the attempt, if it failed.
        """
        elapsed = time.monotonic() - self._start
        metrics.ATTEMPT_DURATION.labels(function=self.function, outcome=outcome).observe(elapsed)
        metrics.EXECUTION_LATENCY.labels(
            function=self.function, namespace=self._namespace, worker=self._worker
        ).observe(elapsed)
        if outcome in ("taken", "fenced"):
            return
        message = None
        if error is not None:
            message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        tracing.emit_span(
            f"attempt {self.function}",
            trace_id=self._trace.trace_id,
            span_id=self._span_id,
            parent_span_id=self._trace.span_id,
            start_ns=self._start_ns,
            end_ns=time.time_ns(),
            attributes={
                **self._attributes,
                "kontinue.attempt.outcome": outcome,
                "kontinue.steps.run": self.steps_run,
            },
            error=message,
        )
