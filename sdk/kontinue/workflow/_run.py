"""Running one attempt of a workflow function, and the status an outcome leads to.

``run_attempt`` converts the arguments, calls the function with a fresh
:class:`ExecutionContext` and turns whatever happens into an :class:`Outcome`; it never lets an
exception escape. ``finish_status`` maps the outcome to its transition of the Execution's
lifecycle (:mod:`kontinue.api.transitions`): Completed, Backoff (a retryable failure with
retries left), Failed, Suspended, Canceled, or back to Pending after an interruption.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from kontinue import errors
from kontinue.api import conversion, nesting, policy, transitions
from kontinue.api.digests import json_digest
from kontinue.workflow._context import ExecutionContext
from kontinue.workflow._journal import Journal
from kontinue.workflow._observer import StepObserver
from kontinue.workflow._registry import FunctionDef

MAX_RESULT_BYTES = 512 * 1024
"""Largest JSON result an execution may return (it is stored in the Execution's status)."""


@dataclass
class Outcome:
    """How one attempt ended."""

    kind: Literal["completed", "failed", "released", "canceled", "fenced", "interrupted"]
    result: Any = None
    error: BaseException | None = None
    waiting_on: list[tuple[str, str]] = field(default_factory=list)
    message: str = ""


def check_arguments(execution: Mapping[str, Any]) -> None:
    """Refuse arguments nested too deeply, or changed since the first attempt read them.

    Raises:
        ValidationError: the arguments cannot be used (the message names ``spec.arguments``).
    """
    raw = (execution.get("spec") or {}).get("arguments")
    try:
        nesting.check_depth(raw, "spec.arguments")
    except nesting.TooDeep as exc:
        raise errors.ValidationError(str(exc)) from None
    recorded = (execution.get("status") or {}).get("argumentsDigest")
    if recorded and recorded != json_digest(raw):
        raise errors.ValidationError(
            "spec.arguments changed after the execution started; an execution's arguments "
            "cannot change (start a new execution instead)"
        )


def _arguments(definition: FunctionDef, raw: Any) -> Any:
    """The function's argument from JSON; no arguments at all mean its defaults (``{}``)."""
    what = f"the arguments of {definition.name}"
    try:
        return conversion.from_json(raw, definition.argument_type, what)
    except errors.ValidationError:
        if raw is not None:
            raise
        return conversion.from_json({}, definition.argument_type, what)


def run_attempt(
    definition: FunctionDef,
    journal: Journal,
    *,
    hold: float,
    logger: logging.Logger | None = None,
    observer: StepObserver | None = None,
) -> Outcome:
    """Run the function once against ``journal``; every exception becomes an Outcome."""
    ktx = ExecutionContext(journal, hold=hold, logger=logger, observer=observer)
    spec = journal.execution().get("spec") or {}
    try:
        check_arguments(journal.execution())
        call_args: tuple[Any, ...] = (ktx,)
        if definition.takes_arguments:
            call_args += (_arguments(definition, spec.get("arguments")),)
        elif spec.get("arguments") not in (None, {}):
            raise errors.ValidationError(f"function {definition.name} takes no arguments")
        if definition.is_async:
            result = _run_coroutine(definition.fn, call_args)
        else:
            result = definition.fn(*call_args)
        data = conversion.to_json(result, f"the result of {definition.name}")
        conversion.check_size(
            data,
            MAX_RESULT_BYTES,
            f"the result of {definition.name} is {{size}} bytes of JSON; at most {{limit}} "
            "bytes fit in the Execution's status",
        )
        return Outcome("completed", result=data)
    except errors.Released as released:
        return Outcome("released", waiting_on=released.waiting_on, message=released.message)
    except errors.Fenced:
        return Outcome("fenced")
    except errors.Interrupted as interrupted:
        return Outcome("interrupted", message=str(interrupted))
    except errors.Canceled as canceled:
        return Outcome("canceled", message=str(canceled))
    except Exception as exc:  # noqa: BLE001 - every user error becomes the attempt's outcome
        return Outcome("failed", error=exc)


def _run_coroutine(fn: Any, args: tuple[Any, ...]) -> Any:
    """Run an async workflow to its end, on this thread unless it already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fn(*args))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # a loop runs here
        return pool.submit(lambda: asyncio.run(fn(*args))).result()


def finish_status(outcome: Outcome, execution: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The status fields an outcome sets (a merge patch of ``status``), from the lifecycle."""
    status = execution.get("status") or {}
    if outcome.kind == "completed":
        return transitions.complete(status, outcome.result, now)
    if outcome.kind == "released":
        return transitions.suspend(outcome.waiting_on, outcome.message)
    if outcome.kind == "interrupted":
        return transitions.release(f"resuming after an interruption: {outcome.message}")
    if outcome.kind == "canceled":
        return transitions.cancel(status, outcome.message, now)
    assert outcome.error is not None
    return transitions.fail(status, outcome.error, policy.retry_of(execution), now)
