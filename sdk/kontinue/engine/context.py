"""ExecutionContext and the replay engine's bookkeeping: step names, duplicates, determinism.

Invariant: step names depend only on the order of the calls the workflow makes (an explicit
name, ``generate_name`` plus a per-prefix counter, or the step type plus a per-type counter), so
a replay of deterministic code reaches every recorded step under the same name and position; a
replay that does not is stopped with a :class:`~kontinue.errors.NondeterminismError` naming both.
A code change that must not stop executions in flight goes behind
:meth:`ExecutionContext.patched`: a marker step (type ``patch``) that new executions record
and old ones, whose history goes on without it, do without.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any, TypeVar

from kontinue import errors
from kontinue.api import attempts as attempt_log
from kontinue.api import names, policy, retries
from kontinue.api.options import StepOptions
from kontinue.api.timestamps import format_time
from kontinue.engine.journal import Journal
from kontinue.engine.observer import StepObserver
from kontinue.engine.records import StepRecord

T = TypeVar("T")

PATCH_STEP = "patch"
"""The type of the marker step :meth:`ExecutionContext.patched` records."""

PATCH_PREFIX = "patch-"
"""A patch marker's step name is this prefix and the change id."""


def patch_step_name(change_id: str) -> str:
    """The step name of the marker of ``change_id``.

    Raises:
        ValidationError: the change id does not make a valid step name.
    """
    name = PATCH_PREFIX + change_id
    if not change_id or not names.is_step_name(name):
        raise errors.ValidationError(
            f"change id {change_id!r} is not usable: lowercase letters, digits and single '-', "
            f"at most {63 - len(PATCH_PREFIX)} characters"
        )
    return name


class ExecutionContext:
    """Passed to every workflow function: the execution's identity and the step machinery.

    Args:
        journal: the execution's durable history.
        hold: seconds a step may wait inside the worker before the execution is released
            (phase Suspended) and the worker slot freed.
        logger: logger for the workflow's own messages.
        observer: told of the steps this attempt runs (the worker's spans and metrics).
    """

    def __init__(
        self,
        journal: Journal,
        *,
        hold: float = 30.0,
        logger: logging.Logger | None = None,
        observer: StepObserver | None = None,
    ) -> None:
        self._journal = journal
        self._observer = observer
        self.hold = hold
        self._logger = logger or logging.getLogger(f"kontinue.workflow.{journal.name}")
        self._counters: dict[str, int] = {}
        self._used: set[str] = set()
        self._index = 0
        self._by_index = {r.index: r for r in journal.steps().values()}
        self._last_recorded = max(self._by_index, default=-1)
        self._patches: dict[str, bool] = {}
        self._close_waits: list[str] = []

    # -- what the workflow may read --------------------------------------------------------------

    @property
    def execution(self) -> Mapping[str, Any]:
        """The current Execution object (metadata, spec, status) as a dict."""
        return self._journal.execution()

    @property
    def name(self) -> str:
        """The execution's name."""
        return self._journal.name

    @property
    def namespace(self) -> str:
        """The execution's namespace."""
        return self._journal.namespace

    @property
    def attempts(self) -> int:
        """Previous attempts, not counting the one running now."""
        return attempt_log.previous(self.execution.get("status"))

    @property
    def child_policy(self) -> str:
        """The child policy in effect: what a retry does with failed children."""
        return str(policy.retry_of(self.execution).get("childPolicy") or "None")

    def reruns(self, recorded: StepRecord) -> bool:
        """Whether the failed or canceled object of a recorded step runs again now.

        Under ``childPolicy: RetryFailed``, or after a manual retry (see
        :func:`kontinue.api.retries.reruns`); never for an object this attempt recorded.
        """
        return retries.reruns(
            self.execution.get("status"), recorded.attempt, self.attempts, self.child_policy
        )

    def reruns_unrecorded(self, created: datetime | None, *, ended_only: bool) -> bool:
        """Whether a failed or canceled object of a step no attempt recorded runs again now.

        After a manual retry, an object an earlier attempt left without recording it: with
        ``ended_only`` (a canceled Suspension, a stopped Job: only the end of an execution
        makes those) any such object, else one created before the retry
        (:func:`kontinue.api.retries.predates`).
        """
        status = self.execution.get("status")
        if ended_only:
            return retries.retried(status)
        return retries.predates(status, created)

    @property
    def resumptions(self) -> int:
        """Times the execution was resumed after its first start (takeovers, wake-ups, retries)."""
        return int(self.execution.get("status", {}).get("resumptions") or 0)

    @property
    def canceled(self) -> threading.Event:
        """Set when the execution is canceled; long-running code may check it."""
        return self._journal.canceled

    @property
    def logger(self) -> logging.Logger:
        """Logger for the workflow's messages."""
        return self._logger

    @property
    def replaying(self) -> bool:
        """True while the history records a step at the next position.

        The workflow is then re-running code it already ran in an earlier attempt (or claim).
        """
        return self._index in self._by_index

    @property
    def position(self) -> int:
        """How many step positions this attempt has reached (the next step's position)."""
        return self._index

    @property
    def journal(self) -> Journal:
        """The durable history (for step implementations)."""
        return self._journal

    # -- the engine --------------------------------------------------------------------------------

    def begin_step(
        self, step_type: str, options: StepOptions | None
    ) -> tuple[str, int, StepRecord | None]:
        """Name the next step, check it against the history, and return its recorded form.

        Raises:
            ValidationError: an explicit name is not a valid DNS label.
            DuplicateStepError: the name was already used in this execution.
            NondeterminismError: the history has another step at this position, or this name
                with another type.
        """
        self.check_canceled()
        name = self._step_name(step_type, options)
        if name in self._used:
            raise errors.DuplicateStepError(f"step name {name!r} is used more than once")
        self._used.add(name)
        index = self._index
        self._index += 1
        recorded = self._journal.steps().get(name)
        at_index = self._by_index.get(index)
        if at_index is not None and at_index.name != name:
            raise errors.NondeterminismError(
                f"replay reached step #{index} as {name!r} ({step_type}) but the history "
                f"records {at_index.name!r} ({at_index.type}) at that position: the workflow "
                "is not deterministic between steps"
            )
        if recorded is not None and recorded.type != step_type:
            raise errors.NondeterminismError(
                f"replay reached step {name!r} as a {step_type} step but the history records "
                f"it as a {recorded.type} step"
            )
        if recorded is not None and recorded.index != index:
            raise errors.NondeterminismError(
                f"replay reached step {name!r} ({step_type}) at position #{index} but the "
                f"history records it at #{recorded.index}"
            )
        return name, index, recorded

    def patched(self, change_id: str, *, deprecated: bool = False) -> bool:
        """Whether this execution takes the new branch of a code change (a marker step).

        - The history records the marker (at this position): True, as when it was recorded.
        - The history records steps at or past this position but not the marker: the
          execution ran this far under the code before the change, so False (the old branch),
          without a nondeterminism error; no position is taken.
        - Otherwise (the execution reaches this point for the first time): the marker is
          recorded, lazily like a child's record, so it rides along with the next write, and
          True.

        With ``deprecated`` (no execution of the old code is left): a recorded marker is
        accepted, none is required nor recorded, and the answer is True. A second call with
        the same change id gives the first call's answer.

        Raises:
            ValidationError: the change id does not make a valid step name.
            NondeterminismError: the history records the marker at another position.
        """
        self.check_canceled()
        name = patch_step_name(change_id)
        if name in self._patches:
            return self._patches[name]
        recorded = self._journal.steps().get(name)
        if recorded is not None:
            self.begin_step(PATCH_STEP, StepOptions(name=name))
            taken = True
        elif deprecated:
            taken = True
        elif self._index <= self._last_recorded:
            taken = False
        else:
            step, index, _ = self.begin_step(PATCH_STEP, StepOptions(name=name))
            now = format_time(self.now())
            marker = self.record(step, index, PATCH_STEP, None, started_at=now, finished_at=now)
            self._journal.record(marker)
            taken = True
        self._patches[name] = taken
        return taken

    def _step_name(self, step_type: str, options: StepOptions | None) -> str:
        if options is not None and options.name:
            if not names.is_step_name(options.name):
                raise errors.ValidationError(
                    f"step name {options.name!r} is not a valid step name (lowercase letters, "
                    "digits and single '-', at most 63 characters)"
                )
            return options.name
        prefix = step_type
        if options is not None and options.generate_name:
            prefix = names.sanitize(options.generate_name)  # single '-' only
            if not prefix:
                raise errors.ValidationError(
                    f"generate_name {options.generate_name!r} has no usable characters"
                )
        count = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = count
        return f"{prefix}-{count}"

    def observe_step(self, name: str, step_type: str) -> AbstractContextManager[None]:
        """A scope around the work of a step that this attempt runs (not a replayed one)."""
        if self._observer is None:
            return nullcontext()
        return self._observer.step(name, step_type)

    def record(
        self, name: str, index: int, step_type: str, options: StepOptions | None, **fields: Any
    ) -> StepRecord:
        """A step record for ``name`` with the options' display metadata."""
        return StepRecord(
            name=name, type=step_type, index=index,
            display_name=options.display_name if options else None,
            description=options.description if options else None,
            attempt=self.attempts + 1, **fields,
        )  # fmt: skip

    def object_deleted(self, kind: str, name: str, step: str) -> errors.StepObjectDeletedError:
        """The error for a recorded step whose object someone deleted."""
        return errors.StepObjectDeletedError(
            f"the {kind} {name} of step {step!r} was deleted; a step whose object was deleted "
            "is not run again (start a new execution to run it again)",
            child=name,
        )

    def wait_at_close(self, child: str) -> None:
        """Note a child whose parent-close policy is ``wait`` (see :mod:`.closing`)."""
        if child not in self._close_waits:
            self._close_waits.append(child)

    @property
    def close_waits(self) -> list[str]:
        """The children this attempt waits for before it ends (parent-close policy ``wait``)."""
        return list(self._close_waits)

    def check_canceled(self) -> None:
        """Unwind the workflow if the execution was canceled."""
        if self._journal.canceled.is_set():
            raise errors.Canceled("the execution was canceled")

    def now(self) -> datetime:
        """The journal's current time."""
        return self._journal.now()

    def await_resolution(
        self,
        keys: list[tuple[str, str]],
        resolve: Callable[[], T | None],
        describe: str,
        remaining: Callable[[], float | None] | None = None,
        hold_until: float | None = None,
        details: Callable[[], dict[tuple[str, str], dict[str, Any]]] | None = None,
    ) -> T:
        """Wait until ``resolve()`` returns a value, for at most the hold time.

        Args:
            keys: the ``(kind, name)`` objects being waited on.
            resolve: returns the outcome once resolved, else None.
            describe: "what we wait for", used in the release message.
            remaining: seconds until resolution when known (a sleep): a wait longer than the
                hold releases at once.
            hold_until: when the hold ends (``time.monotonic()``), for a step that already
                spent part of it (default: the hold time from now).
            details: extra fields of some keys in ``status.suspendedOn`` when the execution
                is released (``first``, a signal's ``after``), asked for at the release.

        Raises:
            Released: the wait outlasts the hold time; the execution is released.
        """
        if hold_until is None:
            hold_until = time.monotonic() + self.hold
        while True:
            self.check_canceled()
            outcome = resolve()
            if outcome is not None:
                return outcome
            left = hold_until - time.monotonic()
            known = remaining() if remaining is not None else None
            if left <= 0 or (known is not None and known > left):
                raise errors.Released(
                    keys, f"waiting for {describe}", details() if details is not None else None
                )
            self._journal.wait(keys, min(left, known) if known is not None else left)
