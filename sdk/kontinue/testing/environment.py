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
  (:meth:`WorkflowEnvironment.resume`); :meth:`WorkflowEnvironment.waiting` lists them.
- Job, pod and script steps are answered by the ``job_handler`` the test gives (exit codes,
  logs, how long the Job takes); without one every Job succeeds at once.
- ``crash_after="step"`` kills the "worker" right after that step became durable (its value
  committed, its child, sleep or suspension resolved): the attempt's remaining work is lost, the
  execution is taken over (Pending again) and replayed, as after a worker crash on a cluster.

What it does not model: several workers side by side, leases, mutexes and concurrency limits,
worker groups, TTL, schedules, and the API server's own failures.
"""

from __future__ import annotations

import copy
import functools
import importlib
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from kontinue import errors
from kontinue.api import attempts as attempt_log
from kontinue.api import (
    conversion,
    deadlines,
    fan_out,
    labels,
    manifests,
    policy,
    transitions,
    waits,
)
from kontinue.api.digests import json_digest
from kontinue.api.messages import truncate_message
from kontinue.api.options import DurationLike, to_timedelta
from kontinue.api.phases import (
    Phase,
    SuspensionPhase,
    execution_phase,
    job_end,
    suspension_phase,
)
from kontinue.api.timestamps import format_micro_time, format_time, format_time_ceil, parse_time
from kontinue.engine.outcomes import Outcome, finish_status
from kontinue.engine.records import (
    ChildSpec,
    ChildState,
    JobState,
    Progress,
    StepRecord,
    SuspensionState,
)
from kontinue.engine.registry import FunctionDef, FunctionRegistry, default_registry
from kontinue.engine.run import run_attempt

WORKER = "test-worker"
"""The worker name the environment's claims record."""

MAX_RUNS = 10_000
"""Most attempts (claims) one call of the environment runs before it gives up (a livelock)."""


class WorkflowEnvironmentError(errors.KontinueError):
    """Misuse of the environment, or a run that cannot go on (nothing left that could run)."""

    default_kind = errors.ErrorKind.VALIDATION


class StuckError(WorkflowEnvironmentError):
    """The execution cannot finish: it waits for something only the test can give.

    A suspension to resume, a Job the handler left running, or a function no one registered.
    """


class _Crash(BaseException):  # noqa: N818 - control flow, not an error
    """The simulated worker dies (not catchable by ``except Exception`` in workflow code)."""

    def __init__(self, step: str) -> None:
        super().__init__(f"the worker crashed after step {step!r}")
        self.step = step


# -- Jobs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    """A Job a job, pod or script step asks for, as the ``job_handler`` sees it."""

    name: str
    """The Job's name (derived from the execution and the step)."""
    step: str
    execution: str
    spec: Mapping[str, Any]
    """The Job's spec (for pod and script steps, the one-pod Job built around the pod)."""
    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    @property
    def containers(self) -> list[Mapping[str, Any]]:
        """The pod template's containers."""
        template = (self.spec.get("template") or {}).get("spec") or {}
        return list(template.get("containers") or [])

    @property
    def command(self) -> list[str]:
        """The first container's command and arguments (a script step's shell command last)."""
        first = self.containers[0] if self.containers else {}
        return [*(first.get("command") or []), *(first.get("args") or [])]


@dataclass(frozen=True)
class JobOutcome:
    """How a Job the handler ran ends: its one pod's exit codes and logs.

    Args:
        exit_code: the exit code of every container (unless ``exit_codes`` names them).
        logs: what the pod printed (one string for every container, or one per container).
        message: the termination message of a failed container (and the Job's message).
        exit_codes: the exit code of each container by name.
        duration: how long the Job runs on the fake clock (0: done at once).
    """

    exit_code: int = 0
    logs: str | Mapping[str, str] = ""
    message: str | None = None
    exit_codes: Mapping[str, int] | None = None
    duration: DurationLike = 0


JobHandler = Callable[[JobRequest], JobOutcome | None]
"""Answers a Job: its outcome, or None to leave it running (see :meth:`finish_job`)."""


@dataclass
class _Job:
    manifest: dict[str, Any]
    request: JobRequest
    finish_at: datetime | None = None
    outcome: JobOutcome | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[tuple[str, str], str] = field(default_factory=dict)


# -- what a test reads -----------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingSuspension:
    """A manual suspension (an approval) that waits to be resumed."""

    name: str
    """The Suspension's name."""
    step: str
    """The step that suspended (``SuspendOptions(name=...)`` or ``suspend-N``)."""
    execution: str
    display_name: str | None
    description: str | None


@dataclass
class _Execution:
    obj: dict[str, Any]
    definition: FunctionDef | None
    crash_after: set[str]
    messages: list[str] = field(default_factory=list)
    canceled: threading.Event = field(default_factory=threading.Event)
    seq: int = 0


class ExecutionHandle:
    """An execution in the environment: run it to its end, resume it, and look at it."""

    def __init__(self, env: WorkflowEnvironment, name: str) -> None:
        self._env = env
        self.name = name

    def __repr__(self) -> str:
        return f"<ExecutionHandle {self.name} {self.phase}>"

    @property
    def _record(self) -> _Execution:
        return self._env._executions[self.name]

    # -- running -----------------------------------------------------------------------------

    def wait(self) -> ExecutionHandle:
        """Run (skipping time) until the execution reached a terminal phase.

        Raises:
            StuckError: it waits for something only the test can give (a resume, a Job).
        """
        self._env._run_until(lambda: self.phase.terminal, skip_time=True, what=self.name)
        return self

    def result(self, result_type: Any = None) -> Any:
        """Run until the execution ends and return its result (JSON, or ``result_type``).

        Raises:
            ExecutionError: it failed or was canceled (kind and message of ``status.error``).
            StuckError: it waits for something only the test can give.
        """
        self.wait()
        status = self.status
        if self.phase != Phase.COMPLETED:
            fallback = f"execution {self.name} ended {self.phase}: {status.get('message') or ''}"
            raise errors.ExecutionError.from_status(status.get("error"), fallback.rstrip(": "))
        return conversion.from_json(status.get("result"), result_type, f"the result of {self.name}")

    def resume(self, suspension: str | None = None, data: Any = None) -> None:
        """Resume one of its waiting suspensions (see :meth:`WorkflowEnvironment.resume`)."""
        self._env.resume(self, suspension, data)

    def cancel(self) -> None:
        """Cancel it and its whole tree (see :meth:`WorkflowEnvironment.cancel`)."""
        self._env.cancel(self)

    # -- reading -----------------------------------------------------------------------------

    @property
    def execution(self) -> dict[str, Any]:
        """The Execution object as a cluster would store it (a copy)."""
        return copy.deepcopy(self._record.obj)

    @property
    def status(self) -> dict[str, Any]:
        """Its ``status`` (a copy)."""
        return copy.deepcopy(self._record.obj.get("status") or {})

    @property
    def function(self) -> str:
        """The function it runs."""
        return str(self._record.obj["spec"]["function"])

    @property
    def phase(self) -> Phase:
        """Its phase (Pending, Executing, Suspended, Backoff, Completed, Failed, Canceled)."""
        return execution_phase(self._record.obj)

    @property
    def steps(self) -> list[StepRecord]:
        """The recorded steps in execution order (name, type, phase, child, times...)."""
        raw = (self._record.obj.get("status") or {}).get("steps") or {}
        records = [StepRecord.from_status(name, rec) for name, rec in raw.items()]
        return sorted(records, key=lambda r: r.index)

    def step(self, name: str) -> StepRecord:
        """The record of step ``name``."""
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(f"execution {self.name} has no step {name!r}")

    def stored(self, step: str) -> Any:
        """The JSON value a store (or job) step recorded."""
        return copy.deepcopy(((self._record.obj.get("status") or {}).get("state") or {})[step])

    @property
    def message(self) -> str | None:
        """The current ``status.message``."""
        return (self._record.obj.get("status") or {}).get("message") or None

    @property
    def messages(self) -> list[str]:
        """Every message the workflow set (``set_message``), in order.

        What the last claim set: a replay repeats every earlier call, so that is the whole
        story of a deterministic workflow.
        """
        return list(self._record.messages)

    @property
    def progress(self) -> tuple[int, int | None] | None:
        """``(current, max)`` of ``status.progress``, or None."""
        progress = (self._record.obj.get("status") or {}).get("progress")
        if not progress:
            return None
        return int(progress.get("current") or 0), progress.get("max")

    @property
    def error(self) -> dict[str, Any] | None:
        """``status.error`` (kind, message, retryable), or None."""
        error = (self._record.obj.get("status") or {}).get("error")
        return dict(error) if error else None

    @property
    def attempts(self) -> list[dict[str, Any]]:
        """``status.attempts``: every attempt (phase, message, error, times), oldest first."""
        return attempt_log.listed(self._record.obj.get("status"))

    @property
    def resumptions(self) -> int:
        """Times it was resumed after its first claim (wake-ups, takeovers, retries)."""
        return int((self._record.obj.get("status") or {}).get("resumptions") or 0)

    @property
    def children(self) -> list[ExecutionHandle]:
        """Its child executions, in creation order."""
        return [
            ExecutionHandle(self._env, e.obj["metadata"]["name"])
            for e in self._env._owned(self.name)
        ]

    def child(self, step: str) -> ExecutionHandle:
        """The child that step ``step`` started (the latest one, after a re-run)."""
        found = [c for c in self.children if c._record.obj["spec"]["parent"]["step"] == step]
        if not found:
            raise KeyError(f"execution {self.name} has no child of step {step!r}")
        return found[-1]

    @property
    def waiting(self) -> list[WaitingSuspension]:
        """Its manual suspensions that wait to be resumed."""
        return self._env.waiting(self)


# -- the journal ---------------------------------------------------------------------------------


class _Journal:
    """The :class:`~kontinue.engine.journal.Journal` of one claim of an execution."""

    def __init__(self, env: WorkflowEnvironment, record: _Execution) -> None:
        self._env = env
        self._record = record
        self.workflow_message = False

    @property
    def name(self) -> str:
        return str(self._record.obj["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return self._env.namespace

    @property
    def canceled(self) -> threading.Event:
        return self._record.canceled

    def execution(self) -> Mapping[str, Any]:
        return self._record.obj

    def _status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._record.obj.setdefault("status", {})
        return status

    def write(self, patch: Mapping[str, Any]) -> None:
        """One status write of this claim (fenced once the attempt timed out)."""
        self._env._check_attempt(self._record)
        status = self._status()
        if "argumentsDigest" not in status:
            status["argumentsDigest"] = json_digest(
                (self._record.obj.get("spec") or {}).get("arguments")
            )
        _merge(status, patch)

    def steps(self) -> Mapping[str, StepRecord]:
        raw = self._status().get("steps") or {}
        return {name: StepRecord.from_status(name, rec) for name, rec in raw.items()}

    def stored(self, name: str) -> Any:
        return copy.deepcopy((self._status().get("state") or {}).get(name))

    def commit_store(self, record: StepRecord, value: Any) -> None:
        self.write({"state": {record.name: copy.deepcopy(value)}} if value is not None else {})
        self._status().setdefault("steps", {})[record.name] = record.to_status()
        if record.phase == "Completed":
            self._env._maybe_crash(self._record, record.name)

    def record(self, record: StepRecord, *, replace: bool = False) -> None:
        steps = self._status().setdefault("steps", {})
        if replace or record.name not in steps:
            steps[record.name] = record.to_status()

    def _parent(self, step: str) -> manifests.Parent:
        obj = self._record.obj
        return manifests.Parent(
            name=self.name,
            uid=obj["metadata"]["uid"],
            root=manifests.root_of(obj),
            worker_group=obj["spec"].get("workerGroup") or "default",
            step=step,
        )

    def create_child(self, spec: ChildSpec) -> None:
        existing = self._env._executions.get(spec.name)
        if existing is not None:  # adopt what an earlier claim created, if it asked the same
            asked = (spec.function, spec.arguments)
            found = (existing.obj["spec"]["function"], existing.obj["spec"].get("arguments"))
            if asked != found:
                raise errors.ValidationError(
                    f"the Execution {spec.name} of step {spec.step!r} runs {found[0]} with other "
                    f"arguments than the step asks for now ({asked[0]}): its name is taken, so "
                    "the step cannot use it (is the workflow deterministic?)"
                )
            return
        manifest = manifests.execution_manifest(
            spec.function, spec.arguments, name=spec.name,
            worker_group=self._parent(spec.step).worker_group, retry=spec.retry,
            timeout=spec.timeout, mutex=spec.mutex, display_name=spec.display_name,
            description=spec.description, parent=self._parent(spec.step),
        )  # fmt: skip
        self._env._create(manifest, crash_after=())

    def child(self, name: str) -> ChildState | None:
        found = self._env._executions.get(name)
        if found is None:
            return None
        status = found.obj.get("status") or {}
        state = ChildState(
            name=name,
            phase=execution_phase(found.obj),
            result=copy.deepcopy(status.get("result")),
            error=status.get("error"),
            message=status.get("message"),
        )
        if state.phase.terminal:
            self._env._maybe_crash(self._record, found.obj["spec"]["parent"]["step"], "execute")
        return state

    def create_suspension(
        self,
        name: str,
        step: str,
        resume_at: datetime | None,
        display_name: str | None,
        description: str | None,
    ) -> SuspensionState:
        if name not in self._env._suspensions:
            manifest = manifests.suspension_manifest(
                name,
                self._parent(step),
                resume_at=format_time_ceil(resume_at) if resume_at else None,
                display_name=display_name,
                description=description,
            )
            manifest["metadata"].update(
                namespace=self.namespace, creationTimestamp=format_time(self._env.now)
            )
            manifest["status"] = {"phase": SuspensionPhase.SUSPENDED}
            self._env._suspensions[name] = manifest
        return _suspension_state(self._env._suspensions[name])

    def suspension(self, name: str) -> SuspensionState | None:
        obj = self._env._suspensions.get(name)
        if obj is None:
            return None
        state = _suspension_state(obj)
        done = state.phase == SuspensionPhase.COMPLETED or (
            state.resume_at is not None and state.resume_at <= self._env.now
        )
        if done and state.phase != SuspensionPhase.CANCELED:
            self._env._maybe_crash(self._record, obj["spec"]["step"], "sleep", "suspend")
        return state

    def create_job(
        self,
        name: str,
        step: str,
        spec: Mapping[str, Any],
        extra_labels: Mapping[str, str],
        extra_annotations: Mapping[str, str],
    ) -> JobState:
        if name not in self._env._jobs:
            manifest = manifests.job_manifest(
                name, self._parent(step), spec, extra_labels=extra_labels,
                extra_annotations=extra_annotations,
            )  # fmt: skip
            manifest["metadata"]["namespace"] = self.namespace
            request = JobRequest(
                name=name, step=step, execution=self.name, spec=copy.deepcopy(dict(spec)),
                labels=dict(extra_labels), annotations=dict(extra_annotations),
            )  # fmt: skip
            self._env._start_job(_Job(manifest, request))
        return _job_state(self._env._jobs[name].manifest)

    def job(self, name: str) -> JobState | None:
        job = self._env._jobs.get(name)
        return None if job is None else _job_state(job.manifest)

    def job_pods(self, name: str) -> list[dict[str, Any]]:
        job = self._env._jobs.get(name)
        return copy.deepcopy(job.pods) if job is not None else []

    def pod_logs(self, pod: str, container: str | None, tail_lines: int | None) -> str:
        for job in self._env._jobs.values():
            for (pod_name, name), text in job.logs.items():
                if pod_name == pod and (container is None or container == name):
                    lines = text.splitlines(keepends=True)
                    return "".join(lines[-tail_lines:] if tail_lines else lines)
        raise errors.InfrastructureError(f"the logs of pod {pod} cannot be read: no such pod")

    def wait(self, keys: list[tuple[str, str]], timeout: float) -> None:
        """Never reached: with a hold time of zero every wait releases the execution."""

    def now(self) -> datetime:
        return self._env.now

    def set_message(self, message: str) -> None:
        text = truncate_message(message)
        self.write({"message": text})
        self.workflow_message = True
        self._record.messages.append(text)

    def set_progress(self, progress: Progress | None) -> None:
        if progress is None:
            self.write({"progress": None})
            return
        summary = (
            f"{progress.current}/{progress.max}"
            if progress.max is not None
            else str(progress.current)
        )
        value: dict[str, Any] = {"current": progress.current, "summary": summary}
        if progress.max is not None:
            value["max"] = progress.max
        if progress.automatic:
            value["automatic"] = True
        self._status().pop("progress", None)  # replaced whole, not merged
        self.write({"progress": value})


def _suspension_state(obj: Mapping[str, Any]) -> SuspensionState:
    status = obj.get("status") or {}
    return SuspensionState(
        name=obj["metadata"]["name"],
        phase=suspension_phase(obj),
        resume_at=parse_time((obj.get("spec") or {}).get("resumeAt")),
        data=copy.deepcopy(status.get("data")),
    )


def _job_state(obj: Mapping[str, Any]) -> JobState:
    status = obj.get("status") or {}
    end = job_end(obj)
    return JobState(
        name=obj["metadata"]["name"],
        finished=end is not None,
        succeeded=int(status.get("succeeded") or 0),
        failed=int(status.get("failed") or 0),
        message=(end.get("message") or end.get("reason")) if end is not None else None,
    )


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """Apply a JSON merge patch (RFC 7386) to ``target`` in place, as JSON (enums as strings)."""
    for key, value in json.loads(json.dumps(patch)).items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


# -- the environment -----------------------------------------------------------------------------


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
        self.registry = registry if registry is not None else default_registry
        self.namespace = namespace
        self.job_handler = job_handler
        moment = start or datetime.now(UTC)
        if moment.tzinfo is None:
            raise WorkflowEnvironmentError("start must be an aware datetime (with a time zone)")
        self._now = moment.astimezone(UTC).replace(microsecond=0)
        self._executions: dict[str, _Execution] = {}
        self._suspensions: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, _Job] = {}
        self._ids = itertools.count(1)
        self._running: _Execution | None = None
        self.crashes: list[tuple[str, str]] = []
        """Every injected crash: (execution, step after which it crashed)."""
        self.claims = 0
        """How many attempts (claims) ran in all."""

    # -- the clock -------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The fake clock (what ``ktx.now()`` and every status timestamp use)."""
        return self._now

    def advance(self, duration: DurationLike) -> None:
        """Move the clock forward by ``duration``, firing every timer due on the way in order.

        Called from workflow code that an execution runs (a slow call in a store step), it
        only moves the clock: the time passes during that attempt (an attempt timeout may
        strike) and the timers fire once the attempt ended.
        """
        delta = to_timedelta(duration)
        if delta < timedelta(0):
            raise WorkflowEnvironmentError(f"the clock only moves forward, not by {duration}")
        self.sleep_until(self._now + delta)

    def sleep_until(self, moment: datetime) -> None:
        """Move the clock to ``moment``, firing every timer due on the way in order."""
        if moment.tzinfo is None:
            raise WorkflowEnvironmentError("sleep_until needs an aware datetime (with a time zone)")
        if moment < self._now:
            raise WorkflowEnvironmentError(
                f"the clock is at {self._now}, it cannot go back to {moment}"
            )
        if self._running is not None:
            self._now = moment
            return
        while True:
            self._settle()
            due = self._next_timer()
            if due is None or due > moment:
                break
            self._now = max(self._now, due)
        self._now = moment
        self._settle()

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
            function_name, data, name=name or f"{function_name[:50]}-{next(self._ids)}",
            retry=retry, timeout=timeout,
        )  # fmt: skip
        if manifest["metadata"]["name"] in self._executions:
            raise WorkflowEnvironmentError(
                f"an execution named {manifest['metadata']['name']} exists"
            )
        targets = {crash_after} if isinstance(crash_after, str) else set(crash_after)
        record = self._create(manifest, crash_after=targets)
        self._settle()
        return ExecutionHandle(self, record.obj["metadata"]["name"])

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
        if name not in self._executions:
            raise KeyError(f"no execution named {name}")
        return ExecutionHandle(self, name)

    @property
    def executions(self) -> list[ExecutionHandle]:
        """Every execution, in creation order."""
        return [ExecutionHandle(self, name) for name in self._executions]

    def waiting(self, execution: ExecutionHandle | str | None = None) -> list[WaitingSuspension]:
        """The manual suspensions that wait to be resumed (of one execution, or all)."""
        owner = execution.name if isinstance(execution, ExecutionHandle) else execution
        found = []
        for obj in self._suspensions.values():
            spec = obj["spec"]
            if spec.get("resumeAt") or suspension_phase(obj) != SuspensionPhase.SUSPENDED:
                continue
            if owner is not None and spec["execution"] != owner:
                continue
            found.append(
                WaitingSuspension(
                    name=obj["metadata"]["name"],
                    step=spec["step"],
                    execution=spec["execution"],
                    display_name=spec.get("displayName"),
                    description=spec.get("description"),
                )  # fmt: skip
            )
        return found

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
        candidates = self.waiting(owner)
        if suspension is not None:
            candidates = [w for w in candidates if suspension in (w.name, w.step, w.display_name)]
        if len(candidates) != 1:
            listed = ", ".join(w.display_name or w.step for w in self.waiting(owner)) or "none"
            raise WorkflowEnvironmentError(
                f"execution {owner} has {len(candidates)} waiting suspensions matching "
                f"{suspension!r} (waiting: {listed})"
            )
        obj = self._suspensions[candidates[0].name]
        conversion.check_depth(data, "the resume payload")
        obj["status"] = {
            "phase": SuspensionPhase.COMPLETED,
            "finishedAt": format_time(self._now),
            "resumedBy": "test",
            **(
                {"data": conversion.to_json(data, "the resume payload")} if data is not None else {}
            ),
        }
        self._settle()

    def cancel(self, execution: ExecutionHandle | str) -> None:
        """Cancel an execution and its whole tree, as ``kontinue cancel`` does."""
        name = execution.name if isinstance(execution, ExecutionHandle) else execution
        self._cancel_tree(self._executions[name], "canceled by the test")
        self._settle()

    def finish_job(self, name: str, outcome: JobOutcome | None = None) -> None:
        """End a Job the handler left running (default: success), and run what that lets run."""
        job = self._jobs[name]
        self._finish_job(job, outcome or JobOutcome())
        self._settle()

    @property
    def jobs(self) -> list[JobRequest]:
        """Every Job the steps asked for, in order."""
        return [job.request for job in self._jobs.values()]

    def run_until_idle(self) -> None:
        """Run everything that can run at the current time (the clock does not move)."""
        self._settle()

    # -- internals: objects ----------------------------------------------------------------

    def _function_name(self, function: str | Callable[..., Any]) -> str:
        if isinstance(function, str):
            return function
        definition = getattr(function, "__kontinue_function__", None)
        if not isinstance(definition, FunctionDef):
            raise WorkflowEnvironmentError(f"{function!r} is not a @kontinue.function")
        if self.registry.get(definition.name) is None:
            self.registry.add(definition)
        return definition.name

    def _create(self, manifest: dict[str, Any], *, crash_after: Iterable[str]) -> _Execution:
        meta = manifest["metadata"]
        meta.update(
            namespace=self.namespace,
            uid=f"00000000-0000-4000-8000-{next(self._ids):012d}",
            creationTimestamp=format_time(self._now),
        )
        meta.setdefault("annotations", {})[labels.CREATED] = format_micro_time(self._now)
        manifest["status"] = {}
        definition = self.registry.get(manifest["spec"]["function"])
        record = _Execution(manifest, definition, set(crash_after), seq=len(self._executions))
        self._executions[meta["name"]] = record
        return record

    def _owned(self, parent: str) -> list[_Execution]:
        return [
            e for e in self._executions.values()
            if (e.obj["spec"].get("parent") or {}).get("name") == parent
        ]  # fmt: skip

    def _object(self, kind: str, name: str) -> Mapping[str, Any] | None:
        if kind == "Execution":
            found = self._executions.get(name)
            return found.obj if found is not None else None
        if kind == "Suspension":
            return self._suspensions.get(name)
        if kind == "Job":
            job = self._jobs.get(name)
            return job.manifest if job is not None else None
        return None

    def _start_job(self, job: _Job) -> None:
        self._jobs[job.request.name] = job
        outcome = self.job_handler(job.request) if self.job_handler else JobOutcome()
        if outcome is None:
            return
        duration = to_timedelta(outcome.duration)
        if duration > timedelta(0):
            job.outcome, job.finish_at = outcome, self._now + duration
        else:
            self._finish_job(job, outcome)

    def _finish_job(self, job: _Job, outcome: JobOutcome) -> None:
        containers = [c.get("name") or "main" for c in job.request.containers] or ["main"]
        codes = (
            dict(outcome.exit_codes)
            if outcome.exit_codes
            else dict.fromkeys(containers, outcome.exit_code)
        )
        ok = all(code == 0 for code in codes.values())
        pod = f"{job.request.name}-{len(job.pods) + 1:05d}"
        stamp = format_time(self._now)
        job.pods = [{
            "metadata": {"name": pod, "namespace": self.namespace,
                         "labels": dict(job.manifest["spec"]["template"]["metadata"]["labels"])},
            "spec": {"containers": [{"name": c.get("name"), "image": c.get("image")}
                                    for c in job.request.containers]},
            "status": {
                "phase": "Succeeded" if ok else "Failed",
                "containerStatuses": [
                    {"name": name, "state": {"terminated": {
                        "exitCode": code, "reason": "Completed" if code == 0 else "Error",
                        **({"message": outcome.message} if code and outcome.message else {}),
                    }}}
                    for name, code in codes.items()
                ],
            },
        }]  # fmt: skip
        for name in codes:
            logs = outcome.logs
            job.logs[(pod, name)] = logs if isinstance(logs, str) else logs.get(name, "")
        message = None if ok else (outcome.message or "BackoffLimitExceeded")
        job.manifest["status"] = {
            "succeeded": int(ok),
            "failed": int(not ok),
            "conditions": [{
                "type": "Complete" if ok else "Failed", "status": "True",
                "lastTransitionTime": stamp,
                **({"message": message} if message else {}),
            }],
        }  # fmt: skip
        job.finish_at = None

    # -- internals: the controller's part ----------------------------------------------------

    def _apply(self, record: _Execution, patch: Mapping[str, Any]) -> None:
        _merge(record.obj.setdefault("status", {}), patch)

    def _defaults(self, record: _Execution) -> dict[str, Any] | None:
        return record.definition.defaults() if record.definition is not None else None

    def _timers(self) -> list[tuple[datetime, Callable[[], None]]]:
        """Every timer the controller would hold now, as (when, what it does)."""
        timers: list[tuple[datetime, Callable[[], None]]] = []
        for obj in self._suspensions.values():
            resume_at = parse_time(obj["spec"].get("resumeAt"))
            if resume_at is not None and suspension_phase(obj) == SuspensionPhase.SUSPENDED:
                timers.append((resume_at, functools.partial(self._end_sleep, obj)))
        for record in self._executions.values():
            backoff = deadlines.backoff_end(record.obj)
            if backoff is not None:
                timers.append((backoff, functools.partial(self._end_backoff, record)))
            overall = deadlines.overall_deadline(record.obj, self._defaults(record))
            if overall is not None:
                timers.append((overall, functools.partial(self._time_out, record)))
        for job in self._jobs.values():
            if job.finish_at is not None and job.outcome is not None:
                timers.append(
                    (job.finish_at, functools.partial(self._finish_job, job, job.outcome))
                )
        return timers

    def _next_timer(self) -> datetime | None:
        return min((when for when, _ in self._timers()), default=None)

    def _fire_due(self) -> bool:
        """Fire the earliest timer that is due (each one re-reads what it acts on)."""
        due = [t for t in self._timers() if t[0] <= self._now]
        if not due:
            return False
        min(due, key=lambda t: t[0])[1]()
        return True

    def _end_sleep(self, obj: dict[str, Any]) -> None:
        if suspension_phase(obj) != SuspensionPhase.SUSPENDED:
            return
        obj["status"] = {
            "phase": SuspensionPhase.COMPLETED,
            "finishedAt": format_time(self._now),
            "resumedBy": "timer",
            "startedAt": obj["metadata"].get("creationTimestamp"),
        }

    def _end_backoff(self, record: _Execution) -> None:
        if execution_phase(record.obj) != Phase.BACKOFF:
            return
        self._apply(
            record,
            transitions.wake(
                record.obj.get("status"), "retrying after backoff", nextAttemptAt=None
            ),
        )

    def _time_out(self, record: _Execution) -> None:
        if execution_phase(record.obj).terminal:
            return
        limit = policy.timeout_of(record.obj, self._defaults(record)).get("overall")
        error = errors.OverallTimeoutError(f"the execution exceeded its overall timeout of {limit}")
        status = finish_status(Outcome("failed", error=error), record.obj, self._now)
        status["nextAttemptAt"] = None
        self._apply(record, status)
        name = record.obj["metadata"]["name"]
        for child in self._owned(name):
            self._cancel_tree(child, f"execution {name} exceeded its overall timeout")
        self._cancel_suspensions(name)

    def _cancel_suspensions(self, owner: str) -> None:
        for obj in self._suspensions.values():
            if (
                obj["spec"]["execution"] == owner
                and suspension_phase(obj) == SuspensionPhase.SUSPENDED
            ):
                obj["status"] = {
                    "phase": SuspensionPhase.CANCELED,
                    "finishedAt": format_time(self._now),
                }

    def _cancel_tree(self, record: _Execution, message: str) -> None:
        name = record.obj["metadata"]["name"]
        for child in self._owned(name):
            self._cancel_tree(child, message)
        self._cancel_suspensions(name)
        if not execution_phase(record.obj).terminal:
            record.canceled.set()
            self._apply(record, transitions.cancel(record.obj.get("status"), message, self._now))

    def _wake_ready(self) -> bool:
        woke = False
        for record in self._executions.values():
            obj = record.obj
            if execution_phase(obj) != Phase.SUSPENDED:
                continue
            items = (obj.get("status") or {}).get("suspendedOn") or []
            resolved = []
            for item in items:
                found = self._object(item["kind"], item["name"])
                resolved.append(found is None or waits.resolved(item["kind"], found, self._now))
            progress = fan_out.progress_update(obj, sum(resolved))
            if all(resolved):
                waited = ", ".join(f"{i['kind'].lower()} {i['name']}" for i in items)
                self._apply(record, transitions.wake(
                    obj.get("status"), f"resuming: {waited or 'nothing'} done",
                    suspendedOn=None, **({"progress": progress} if progress else {}),
                ))  # fmt: skip
                woke = True
            elif progress is not None:
                self._apply(record, {"progress": progress})
        return woke

    def _check_attempt(self, record: _Execution) -> None:
        """End the running attempt if a timeout passed meanwhile (the claim is then lost)."""
        overall = deadlines.overall_deadline(record.obj, self._defaults(record))
        if overall is not None and overall <= self._now:
            self._time_out(record)
            raise errors.Fenced("the execution timed out; the controller ended it")
        deadline = deadlines.attempt_deadline(record.obj)
        if deadline is None or deadline > self._now:
            return
        limit = policy.timeout_of(record.obj).get("attempt")
        number = (record.obj.get("status") or {}).get("attempt") or 1
        error = errors.AttemptTimeoutError(f"attempt {number} exceeded its timeout of {limit}")
        self._apply(record, finish_status(Outcome("failed", error=error), record.obj, self._now))
        raise errors.Fenced("the attempt timed out; the controller ended it")

    def _maybe_crash(self, record: _Execution, step: str, *types: str) -> None:
        """Crash the worker if ``step`` is one to crash after (of one of ``types``, if given)."""
        recorded = ((record.obj.get("status") or {}).get("steps") or {}).get(step) or {}
        if types and recorded.get("type") not in types:
            return
        if step in record.crash_after:
            record.crash_after.discard(step)
            raise _Crash(step)

    # -- internals: the worker's part --------------------------------------------------------

    def _runnable(self) -> _Execution | None:
        for record in self._executions.values():
            if execution_phase(record.obj) != Phase.PENDING:
                continue
            if record.definition is None:
                record.definition = self.registry.get(record.obj["spec"]["function"])
            if record.definition is not None:
                return record
            function = record.obj["spec"]["function"]
            message = f"no function {function!r} is registered in the test environment"
            if (record.obj.get("status") or {}).get("message") != message:
                self._apply(record, transitions.note(message))
        return None

    def _claim_and_run(self, record: _Execution) -> None:
        definition = record.definition
        assert definition is not None
        status = record.obj.get("status") or {}
        patch = transitions.claim(
            status, worker=WORKER, identity=WORKER, attempt=attempt_log.previous(status) + 1,
            now=self._now,
        )  # fmt: skip
        patch.update(policy.claim_fields(record.obj, definition.defaults()))
        patch["attempts"] = attempt_log.claimed(status, WORKER, format_time(self._now))
        self._apply(record, patch)
        self.claims += 1
        journal = _Journal(self, record)
        record.messages = []  # a replay repeats every earlier call: the last claim's are all
        name = record.obj["metadata"]["name"]
        self._running = record
        try:
            outcome = run_attempt(
                definition, journal, hold=0.0, logger=logging.getLogger(f"kontinue.workflow.{name}")
            )
        except _Crash as crash:
            self.crashes.append((name, crash.step))
            message = f"worker {WORKER} crashed after step {crash.step}; resuming"
            self._apply(record, transitions.wake(
                record.obj.get("status"), message, workerName=None, workerId=None
            ))  # fmt: skip
            return
        finally:
            self._running = None
        if outcome.kind == "fenced":
            return  # the controller ended the attempt (a timeout) while it ran
        try:
            self._check_attempt(record)
        except errors.Fenced:
            return
        if execution_phase(record.obj).terminal:
            return  # canceled from the workflow's own code while it ran
        patch = finish_status(outcome, record.obj, self._now)
        if outcome.kind == "completed" and journal.workflow_message:
            patch.pop("message", None)
        self._apply(record, patch)

    # -- internals: the loop -----------------------------------------------------------------

    def _settle(self) -> None:
        """Run everything that can run at the current time (later, when called from a run)."""
        if self._running is not None:
            return
        self._run_until(lambda: False, skip_time=False, what=None)

    def _run_until(self, done: Callable[[], bool], *, skip_time: bool, what: str | None) -> None:
        if self._running is not None:
            raise WorkflowEnvironmentError(
                "the environment cannot run executions from workflow code"
            )
        for _ in range(MAX_RUNS):
            if done():
                return
            if self._fire_due() or self._wake_ready():
                continue
            record = self._runnable()
            if record is not None:
                self._claim_and_run(record)
                continue
            if not skip_time:
                return
            due = self._next_timer()
            if due is None:
                raise StuckError(self._stuck_message(what))
            self._now = max(self._now, due)
        raise WorkflowEnvironmentError(
            f"gave up after {MAX_RUNS} attempts: the executions never settle"
        )

    def _stuck_message(self, what: str | None) -> str:
        reasons = []
        for wait in self.waiting():
            reasons.append(
                f"suspension {wait.display_name or wait.step!r} of {wait.execution} waits to be "
                "resumed (env.resume)"
            )
        for job in self._jobs.values():
            if job_end(job.manifest) is None and job.finish_at is None:
                reasons.append(f"job {job.request.name} runs until env.finish_job")
        for record in self._executions.values():
            if execution_phase(record.obj) == Phase.PENDING and record.definition is None:
                reasons.append(
                    f"{record.obj['metadata']['name']}: {record.obj['status'].get('message')}"
                )
        return f"execution {what} cannot finish: " + ("; ".join(reasons) or "nothing can run")
