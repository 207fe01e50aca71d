"""Acting on many executions at once: what is selected, who is eligible, and the report.

A bulk action (cancel, resume, retry) runs one *action* per selected execution, after an
*eligibility* check on the phase it was read in, on a small pool of threads
(:data:`DEFAULT_WORKERS`, never more than :data:`MAX_WORKERS`), and reports each execution's
:class:`Outcome`: acted on, skipped with the reason, refused by the API server (403), or failed
with the error. An action writes conditionally (on the resourceVersion it read), so an
execution that finished between the read and the write is reported as skipped, never acted on
after the fact.

:class:`Selection` says which executions: a namespace (or every namespace), a label selector,
functions, phases and, optionally, names. :meth:`kontinue.client.Client.select` lists them;
``Client.cancel_many`` and ``Client.resume_many`` act on them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kontinue import errors
from kontinue.api.phases import Phase, execution_phase
from kontinue.client import kubeapi

DEFAULT_WORKERS = 8
"""API calls a bulk action makes at once by default."""
MAX_WORKERS = 32
"""The most API calls a bulk action ever makes at once."""


class Result(enum.StrEnum):
    """What happened to one execution of a bulk action."""

    DONE = "done"
    """Acted on."""
    PLANNED = "planned"
    """A dry run: it would be acted on."""
    SKIPPED = "skipped"
    """Not eligible (already finished, nothing waiting, ...): nothing was written."""
    REFUSED = "refused"
    """The API server refused the write (403): the user may not do this here."""
    FAILED = "failed"
    """The action failed (the error says why); it may or may not be worth another try."""


class Skip(Exception):
    """Raised by an action that finds, at action time, that the execution is not eligible."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """One execution's line in a :class:`BulkReport`."""

    namespace: str
    name: str
    phase: str
    """The phase it was selected in (what the eligibility check saw)."""
    result: Result
    detail: str = ""
    """What was done, why it was skipped, or the error."""

    def to_json(self) -> dict[str, str]:
        """This outcome as a JSON object."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "phase": self.phase,
            "result": self.result.value,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class BulkReport:
    """What a bulk action did, execution by execution (in the order they were selected)."""

    action: str
    outcomes: Sequence[Outcome]
    dry_run: bool = False

    def count(self, result: Result) -> int:
        """How many executions ended with ``result``."""
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def counts(self) -> dict[str, int]:
        """Executions per result (every result, zeros included)."""
        return {r.value: self.count(r) for r in Result}

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing was refused."""
        return not any(o.result in (Result.FAILED, Result.REFUSED) for o in self.outcomes)

    @property
    def empty(self) -> bool:
        """True when the selection matched no execution."""
        return not self.outcomes

    def summary(self) -> str:
        """One line: ``cancel: 198 done, 2 skipped`` (results that happened only)."""
        parts = [f"{n} {r}" for r, n in self.counts.items() if n]
        verb = f"{self.action} (dry run)" if self.dry_run else self.action
        return f"{verb}: {', '.join(parts) or 'nothing selected'}"

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON object (``-o json``)."""
        return {
            "action": self.action,
            "dryRun": self.dry_run,
            "counts": self.counts,
            "executions": [o.to_json() for o in self.outcomes],
        }


def parse_phases(values: Iterable[str]) -> tuple[Phase, ...]:
    """Phases from ``--phase`` values (repeated or comma-separated, any letter case).

    Raises:
        ValueError: a value is not a phase (the message lists the phases).
    """
    known = {p.value.lower(): p for p in Phase}
    found: list[Phase] = []
    for value in values:
        for part in value.split(","):
            text = part.strip()
            if not text:
                continue
            phase = known.get(text.lower())
            if phase is None:
                raise ValueError(
                    f"unknown phase {text!r}: one of {', '.join(p.value for p in Phase)}"
                )
            if phase not in found:
                found.append(phase)
    return tuple(found)


@dataclass(frozen=True)
class Selection:
    """Which executions a bulk action acts on: every condition given must hold.

    Args:
        namespace: the namespace (None: the client's); ignored with ``all_namespaces``.
        all_namespaces: every namespace the user may list.
        label_selector: a Kubernetes label selector (``team=payments,tier!=canary``).
        functions: only executions of these functions (empty: any).
        phases: only executions in these phases (empty: any).
        names: only these executions (in ``namespace``; empty: any name).
    """

    namespace: str | None = None
    all_namespaces: bool = False
    label_selector: str | None = None
    functions: tuple[str, ...] = ()
    phases: tuple[Phase, ...] = ()
    names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.names and self.all_namespaces:
            raise ValueError("names select executions of one namespace, not of every namespace")
        if self.names and self.label_selector:
            raise ValueError("select executions by names or by a label selector, not both")

    def matches(self, execution: Mapping[str, Any]) -> bool:
        """Whether ``execution`` passes the function and phase conditions."""
        function = str((execution.get("spec") or {}).get("function") or "")
        if self.functions and function not in self.functions:
            return False
        return not self.phases or execution_phase(dict(execution)) in self.phases

    def describe(self, namespace: str) -> str:
        """The selection in words (``namespace`` is the one it resolves to)."""
        parts = ["every namespace" if self.all_namespaces else f"namespace {namespace}"]
        if self.names:
            parts.append(f"names {', '.join(self.names)}")
        if self.label_selector:
            parts.append(f"labels {self.label_selector}")
        if self.functions:
            parts.append(f"function {' or '.join(self.functions)}")
        if self.phases:
            parts.append(f"phase {' or '.join(p.value for p in self.phases)}")
        return ", ".join(parts)


Eligibility = Callable[[Mapping[str, Any]], str | None]
"""Why an execution is not eligible for an action (None: it is)."""
Action = Callable[[Mapping[str, Any]], str]
"""Acts on one execution; returns what it did, raises :class:`Skip` when it finds nothing to
do, an :class:`~kontinue.client.ApiError` (403: refused) or another error when it fails."""


def unfinished(execution: Mapping[str, Any]) -> str | None:
    """Eligibility of cancel and resume: the execution has not finished."""
    phase = execution_phase(dict(execution))
    return f"already finished ({phase.value})" if phase.terminal else None


RETRYABLE_PHASES = frozenset({Phase.FAILED, Phase.CANCELED})
"""The phases a retry re-runs an execution from."""


def retryable(execution: Mapping[str, Any]) -> str | None:
    """Eligibility of retry: the execution failed or was canceled."""
    phase = execution_phase(dict(execution))
    if phase in RETRYABLE_PHASES:
        return None
    return f"only a Failed or Canceled execution is retried (it is {phase.value})"


def _key(execution: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = execution.get("metadata") or {}
    phase = execution_phase(dict(execution)).value
    return str(meta.get("namespace") or ""), str(meta.get("name") or ""), phase


def _one(execution: Mapping[str, Any], action: Action) -> Outcome:
    namespace, name, phase = _key(execution)
    try:
        return Outcome(namespace, name, phase, Result.DONE, action(execution))
    except Skip as skip:
        return Outcome(namespace, name, phase, Result.SKIPPED, skip.reason)
    except kubeapi.Forbidden as exc:
        return Outcome(namespace, name, phase, Result.REFUSED, exc.message)
    except kubeapi.ApiError as exc:
        return Outcome(namespace, name, phase, Result.FAILED, exc.message or str(exc))
    except (kubeapi.Unreachable, errors.KontinueError, ValueError) as exc:
        return Outcome(namespace, name, phase, Result.FAILED, str(exc))
    except Exception as exc:  # noqa: BLE001 - one execution's failure is reported, not raised
        return Outcome(namespace, name, phase, Result.FAILED, str(exc) or type(exc).__name__)


def run(
    action_name: str,
    executions: Sequence[Mapping[str, Any]],
    action: Action,
    eligible: Eligibility,
    *,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
) -> BulkReport:
    """Run ``action`` on every eligible execution of ``executions`` and report each.

    An execution ``eligible`` turns down is skipped without a request; with ``dry_run``
    nothing is written and each eligible execution is reported :attr:`Result.PLANNED`.
    At most ``workers`` (1 to :data:`MAX_WORKERS`) actions run at once.
    """
    workers = max(1, min(MAX_WORKERS, workers))
    outcomes: list[Outcome | None] = [None] * len(executions)
    todo: list[int] = []
    for index, execution in enumerate(executions):
        reason = eligible(execution)
        namespace, name, phase = _key(execution)
        if reason is not None:
            outcomes[index] = Outcome(namespace, name, phase, Result.SKIPPED, reason)
        elif dry_run:
            planned = f"would {action_name}"
            outcomes[index] = Outcome(namespace, name, phase, Result.PLANNED, planned)
        else:
            todo.append(index)
    if todo:
        with ThreadPoolExecutor(min(workers, len(todo)), thread_name_prefix="bulk") as pool:
            done = pool.map(lambda i: _one(executions[i], action), todo)
            for index, outcome in zip(todo, done, strict=True):
                outcomes[index] = outcome
    return BulkReport(action_name, [o for o in outcomes if o is not None], dry_run)
