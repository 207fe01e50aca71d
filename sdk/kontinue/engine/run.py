"""Running one attempt of a workflow function.

``run_attempt`` converts the arguments, calls the function with a fresh
:class:`~kontinue.engine.context.ExecutionContext` and turns whatever happens into an
:class:`~kontinue.engine.outcomes.Outcome`; it never lets an exception escape. What the
execution's status becomes then is :func:`kontinue.engine.outcomes.finish_status`. Before the
outcome of a function that returned or raised, the children it spawned with the parent-close
policy ``wait`` must have finished (:mod:`kontinue.engine.closing`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Mapping
from typing import Any

from kontinue import errors
from kontinue.api import conversion, nesting
from kontinue.api.digests import json_digest
from kontinue.engine.closing import await_close_waits
from kontinue.engine.context import ExecutionContext
from kontinue.engine.journal import Journal
from kontinue.engine.observer import StepObserver
from kontinue.engine.outcomes import Outcome
from kontinue.engine.registry import FunctionDef

MAX_RESULT_BYTES = 512 * 1024
"""Largest JSON result an execution may return (it is stored in the Execution's status)."""


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
    return run_in_context(definition, ktx)


def run_in_context(definition: FunctionDef, ktx: ExecutionContext) -> Outcome:
    """:func:`run_attempt` with a context made by the caller (who may inspect it afterwards)."""
    try:
        try:
            data = _call(definition, ktx)
        except Exception as exc:  # noqa: BLE001 - the attempt failed: it still ends after its
            await_close_waits(ktx)  # wait-policy children
            return Outcome("failed", error=exc)
        await_close_waits(ktx)
        return Outcome("completed", result=data)
    except errors.Released as released:
        return Outcome(
            "released",
            waiting_on=released.waiting_on,
            message=released.message,
            waiting_details=released.details,
        )
    except errors.Fenced:
        return Outcome("fenced")
    except errors.Interrupted as interrupted:
        return Outcome("interrupted", message=str(interrupted))
    except errors.Canceled as canceled:
        return Outcome("canceled", message=str(canceled))
    except Exception as exc:  # noqa: BLE001 - every user error becomes the attempt's outcome
        return Outcome("failed", error=exc)


def _call(definition: FunctionDef, ktx: ExecutionContext) -> Any:
    """Call the function with its arguments; its result as JSON (checked for size)."""
    spec = ktx.journal.execution().get("spec") or {}
    check_arguments(ktx.journal.execution())
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
    return data


def _run_coroutine(fn: Any, args: tuple[Any, ...]) -> Any:
    """Run an async workflow to its end, on this thread unless it already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fn(*args))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # a loop runs here
        return pool.submit(lambda: asyncio.run(fn(*args))).result()
