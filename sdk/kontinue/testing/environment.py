"""A time-skipping test environment: run workflows in-process, on a fake clock, no cluster.

:class:`WorkflowEnvironment` runs registered workflow functions with the worker's own replay
engine (:func:`kontinue.engine.run.run_attempt` against a journal kept in memory), and plays the
controller's part itself: every status change is a transition of :mod:`kontinue.api.transitions`
(claim, complete, suspend, fail with backoff, wake, cancel), the policy in effect is
:mod:`kontinue.api.policy`'s, timeouts and backoff ends come from :mod:`kontinue.api.deadlines`,
a released execution wakes by :mod:`kontinue.api.waits`'s rule. So a workflow goes through the
same phases, attempts and step records as on a cluster; only the time is fake.

How it runs:

- One execution at a time, on the calling thread, in creation order. A step that must wait (a
  child, a sleep, a suspension, a Job) releases the execution at once (a worker hold time of
  zero): the execution goes Suspended, what it waits for runs, and it is woken and replayed
  from the top, exactly like an execution released by a worker. Every wait is thus a replay,
  which also exercises the workflow's determinism.
- Time stands still while something can run. :meth:`ExecutionHandle.result` (and
  :meth:`WorkflowEnvironment.execute`) skip time: when nothing can run, the clock jumps to the
  next timer (a sleep's end, a poll's next check, a backoff's end, a timeout, a Job's end), so a
  one-day sleep takes milliseconds. :meth:`WorkflowEnvironment.advance` and
  :meth:`~WorkflowEnvironment.sleep_until` move the clock explicitly, firing every timer due on
  the way in order.
- Manual suspensions (approvals) wait until the test resumes them
  (:meth:`WorkflowEnvironment.resume`); :meth:`WorkflowEnvironment.waiting` lists them. One
  with a deadline times out when the clock passes it (skipping time gets there).
- Events (``kontinue.wait_for_event``, ``wait_first``) are sent with
  :meth:`WorkflowEnvironment.signal`, before or while the workflow waits.
- Job, pod and script steps are answered by the ``job_handler`` the test gives (exit codes,
  logs, how long the Job takes); without one every Job succeeds at once.
- ``crash_after="step"`` kills the "worker" right after that step became durable (its value
  committed, its child, sleep or suspension resolved): the attempt's remaining work is lost, the
  execution is taken over (Pending again) and replayed, as after a worker crash on a cluster.

What it does not model: several workers side by side, leases, mutexes and concurrency limits,
worker groups, TTL, schedules, and the API server's own failures.

This module holds :class:`WorkflowEnvironment` and re-exports the public types it hands out;
the parts live beside it: the objects and the clock's reading (``_cluster``), the controller's
transitions (``_controller``), the timers (``_clock``), the claim journal (``_journal``), the
worker's part and the loop (``_runner``), :class:`ExecutionHandle` (``_handle``), the Job types
(``_jobs``), :class:`WaitingSuspension` (``_suspensions``) and the errors (``_errors``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from kontinue.api import conversion, manifests
from kontinue.api.options import DurationLike, to_timedelta
from kontinue.engine.registry import FunctionDef, FunctionRegistry, default_registry
from kontinue.testing import _controller
from kontinue.testing._clock import next_timer
from kontinue.testing._cluster import Cluster
from kontinue.testing._errors import StuckError, WorkflowEnvironmentError
from kontinue.testing._handle import ExecutionHandle
from kontinue.testing._jobs import JobHandler, JobOutcome, JobRequest
from kontinue.testing._runner import MAX_RUNS, WORKER, settle
from kontinue.testing._suspensions import WaitingSuspension, waiting_suspensions

__all__ = [
    "MAX_RUNS",
    "WORKER",
    "ExecutionHandle",
    "JobHandler",
    "JobOutcome",
    "JobRequest",
    "StuckError",
    "WaitingSuspension",
    "WorkflowEnvironment",
    "WorkflowEnvironmentError",
]


class WorkflowEnvironment:
    """Workflows run in-process on the worker's replay engine, on a fake clock.

    Args:
        registry: the functions it runs (default: every ``@kontinue.function`` imported so
            far, plus those of ``modules``).
        modules: modules to import first (names or module objects), as a worker's
            ``--module``.
        start: the fake clock's start (default: now, to the second).
        namespace: the namespace the executions live in.
        job_handler: answers the Jobs of job, pod and script steps (default: every Job
            succeeds at once with empty logs).
    """

    def __init__(
        self,
        registry: FunctionRegistry | None = None,
        *,
        modules: Iterable[str | ModuleType] = (),
        start: datetime | None = None,
        namespace: str = "default",
        job_handler: JobHandler | None = None,
    ) -> None:
        for module in modules:
            if isinstance(module, str):
                importlib.import_module(module)
        moment = start or datetime.now(UTC)
        if moment.tzinfo is None:
            raise WorkflowEnvironmentError("start must be an aware datetime (with a time zone)")
        self._cluster = Cluster(
            registry=registry if registry is not None else default_registry,
            namespace=namespace,
            now=moment.astimezone(UTC).replace(microsecond=0),
            job_handler=job_handler,
        )

    # -- settings and counters ---------------------------------------------------------------

    @property
    def registry(self) -> FunctionRegistry:
        """The functions it runs."""
        return self._cluster.registry

    @registry.setter
    def registry(self, registry: FunctionRegistry) -> None:
        self._cluster.registry = registry

    @property
    def namespace(self) -> str:
        """The namespace the executions live in."""
        return self._cluster.namespace

    @namespace.setter
    def namespace(self, namespace: str) -> None:
        self._cluster.namespace = namespace

    @property
    def job_handler(self) -> JobHandler | None:
        """Answers the Jobs of job, pod and script steps (None: every Job succeeds at once)."""
        return self._cluster.job_handler

    @job_handler.setter
    def job_handler(self, job_handler: JobHandler | None) -> None:
        self._cluster.job_handler = job_handler

    @property
    def crashes(self) -> list[tuple[str, str]]:
        """Every injected crash: (execution, step after which it crashed)."""
        return self._cluster.crashes

    @property
    def claims(self) -> int:
        """How many attempts (claims) ran in all."""
        return self._cluster.claims

    # -- the clock -------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The fake clock (what ``ktx.now()`` and every status timestamp use)."""
        return self._cluster.now

    def advance(self, duration: DurationLike) -> None:
        """Move the clock forward by ``duration``, firing every timer due on the way in order.

        Called from workflow code that an execution runs (a slow call in a store step), it
        only moves the clock: the time passes during that attempt (an attempt timeout may
        strike) and the timers fire once the attempt ended.
        """
        delta = to_timedelta(duration)
        if delta < timedelta(0):
            raise WorkflowEnvironmentError(f"the clock only moves forward, not by {duration}")
        self.sleep_until(self._cluster.now + delta)

    def sleep_until(self, moment: datetime) -> None:
        """Move the clock to ``moment``, firing every timer due on the way in order."""
        cluster = self._cluster
        if moment.tzinfo is None:
            raise WorkflowEnvironmentError("sleep_until needs an aware datetime (with a time zone)")
        if moment < cluster.now:
            raise WorkflowEnvironmentError(
                f"the clock is at {cluster.now}, it cannot go back to {moment}"
            )
        if cluster.running is not None:
            cluster.now = moment
            return
        while True:
            settle(cluster)
            due = next_timer(cluster)
            if due is None or due > moment:
                break
            cluster.now = max(cluster.now, due)
        cluster.now = moment
        settle(cluster)

    # -- starting and steering ---------------------------------------------------------------

    def start(
        self,
        function: str | Callable[..., Any],
        arguments: Any = None,
        *,
        name: str | None = None,
        retry: Mapping[str, Any] | None = None,
        timeout: Mapping[str, Any] | None = None,
        crash_after: str | Iterable[str] = (),
    ) -> ExecutionHandle:
        """Create an execution and run what can run now (the clock does not move).

        Args:
            function: the function's registered name, or the decorated function.
            arguments: its argument (JSON-convertible: a dataclass, a pydantic model, a dict).
            name: the Execution's name (default: the function's name and a number).
            retry: ``spec.retry`` (``{"retries": 2, "backoff": "10s"}``), over its defaults.
            timeout: ``spec.timeout`` (``{"attempt": "1m", "overall": "1h"}``).
            crash_after: the worker crashes right after this step (or each of these steps)
                became durable, once each; the execution is then taken over and replayed.
        """
        function_name = self._function_name(function)
        data = conversion.to_json(arguments, f"the arguments of {function_name}")
        manifest = manifests.execution_manifest(
            function_name, data, name=name or f"{function_name[:50]}-{next(self._cluster.ids)}",
            retry=retry, timeout=timeout,
        )  # fmt: skip
        if manifest["metadata"]["name"] in self._cluster.executions:
            raise WorkflowEnvironmentError(
                f"an execution named {manifest['metadata']['name']} exists"
            )
        targets = {crash_after} if isinstance(crash_after, str) else set(crash_after)
        record = self._cluster.create(manifest, crash_after=targets)
        settle(self._cluster)
        return ExecutionHandle(self._cluster, record.obj["metadata"]["name"])

    def execute(
        self,
        function: str | Callable[..., Any],
        arguments: Any = None,
        *,
        result_type: Any = None,
        **options: Any,
    ) -> Any:
        """Start an execution and return its result, skipping time (see :meth:`start`)."""
        return self.start(function, arguments, **options).result(result_type)

    def get(self, name: str) -> ExecutionHandle:
        """The execution named ``name`` (a root or any child)."""
        if name not in self._cluster.executions:
            raise KeyError(f"no execution named {name}")
        return ExecutionHandle(self._cluster, name)

    @property
    def executions(self) -> list[ExecutionHandle]:
        """Every execution, in creation order."""
        return [ExecutionHandle(self._cluster, name) for name in self._cluster.executions]

    def waiting(self, execution: ExecutionHandle | str | None = None) -> list[WaitingSuspension]:
        """The manual suspensions that wait to be resumed (of one execution, or all)."""
        owner = execution.name if isinstance(execution, ExecutionHandle) else execution
        return waiting_suspensions(self._cluster.suspensions.values(), owner)

    def resume(
        self,
        execution: ExecutionHandle | str,
        suspension: str | None = None,
        data: Any = None,
    ) -> None:
        """Resume a waiting suspension with a payload, and run what that lets run.

        Args:
            execution: the execution (handle or name) the suspension belongs to.
            suspension: its step name, display name or Suspension name (None: the only one).
            data: the JSON payload ``kontinue.suspend`` returns.

        Raises:
            WorkflowEnvironmentError: no such waiting suspension (or several, without a name).
        """
        owner = execution.name if isinstance(execution, ExecutionHandle) else execution
        _controller.resume(self._cluster, owner, suspension, data)
        settle(self._cluster)

    def signal(
        self,
        execution: ExecutionHandle | str,
        event: str,
        data: Any = None,
        *,
        id: str | None = None,  # noqa: A002 - as kontinue signal --id
    ) -> str:
        """Send ``event`` with ``data`` to an execution (``kontinue signal``); run what can run.

        The workflow receives it with ``kontinue.wait_for_event`` (or ``wait_first``), also
        when it is sent before the workflow waits. ``id`` makes it idempotent: a second signal
        with the same id is the first one. Returns the Signal's name.

        Raises:
            WorkflowEnvironmentError: no such execution, it finished, or a bad event name.
        """
        owner = execution.name if isinstance(execution, ExecutionHandle) else execution
        name = _controller.signal(self._cluster, owner, event, data, id)
        settle(self._cluster)
        return name

    def signals(self, execution: ExecutionHandle | str) -> list[dict[str, Any]]:
        """The Signals sent to an execution, in the order they were accepted."""
        owner = execution.name if isinstance(execution, ExecutionHandle) else execution
        return [s for s in self._cluster.signals.values() if s["spec"]["execution"] == owner]

    def cancel(self, execution: ExecutionHandle | str) -> None:
        """Cancel an execution and its whole tree, as ``kontinue cancel`` does."""
        name = execution.name if isinstance(execution, ExecutionHandle) else execution
        _controller.cancel_tree(
            self._cluster, self._cluster.executions[name], "canceled by the test"
        )
        settle(self._cluster)

    def finish_job(self, name: str, outcome: JobOutcome | None = None) -> None:
        """End a Job the handler left running (default: success), and run what that lets run."""
        job = self._cluster.jobs[name]
        self._cluster.finish_job(job, outcome or JobOutcome())
        settle(self._cluster)

    @property
    def jobs(self) -> list[JobRequest]:
        """Every Job the steps asked for, in order."""
        return [job.request for job in self._cluster.jobs.values()]

    def run_until_idle(self) -> None:
        """Run everything that can run at the current time (the clock does not move)."""
        settle(self._cluster)

    def _function_name(self, function: str | Callable[..., Any]) -> str:
        if isinstance(function, str):
            return function
        definition = getattr(function, "__kontinue_function__", None)
        if not isinstance(definition, FunctionDef):
            raise WorkflowEnvironmentError(f"{function!r} is not a @kontinue.function")
        if self.registry.get(definition.name) is None:
            self.registry.add(definition)
        return definition.name
