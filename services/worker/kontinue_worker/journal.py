"""The Kubernetes-backed Journal of one claimed execution, with fencing.

Invariant: every write to the execution is a merge patch conditional on the resourceVersion this
worker last wrote or read. On a conflict the worker re-reads the execution: if it is no longer
claimed by this worker with the same claim counter, the run is fenced (``Fenced`` unwinds the
workflow and nothing more is written); if it is, the write is retried on the new version. A
worker paused past its lease therefore cannot write a single checkpoint after a takeover.

Step records of children and suspensions are not written on their own: they ride along with
the next write (a store step, a message, the attempt's end), so a fan-out of N children costs N
creates, not 2N writes. The workflow's search labels (``status.labels``, set by
``kontinue.set_labels``) ride along the same way, as the difference between what the status
holds and what the workflow wants: a replay that sets them again adds nothing to a write.

Compaction keeps a step's cost independent of the history's length: once the Execution's
status holds ``CHUNK_STEPS + KEEP_STEPS`` step records (or ``COMPACT_BYTES`` of stored
values), the ``CHUNK_STEPS`` oldest ones move into an immutable journal chunk (a ConfigMap
owned by the Execution, named after it and the chunk number) and the same fenced store write
removes them from the status and counts the chunk in ``status.journal.chunks``. A chunk's
content is a copy of committed steps, so a fenced worker that creates one adds nothing that
was not already committed. A new claim reads the chunks once (one LIST) and then holds the
whole history in memory.

A status write asks the API server for the patched object's metadata only (a
PartialObjectMetadata answer): encoding the whole Execution (up to 40 step records and their
values) for every step, and decoding it in the worker, is work no step needs (see
docs/benchmarks-floor.md). The journal's copy of the status is then the write applied to the
copy it was conditional on (:func:`~kontinue_worker.patches.merged_status`): the write is
refused unless the server's object is exactly that version, so the copy equals what the server
stored. Anything that
re-reads the execution (a conflict, a lost answer, a new claim) takes the server's copy.
``KONTINUE_STATUS_ANSWER=full`` asks for the whole object back instead.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from kontinue import errors
from kontinue.api import (
    adoption,
    forks,
    journal_chunks,
    labels,
    manifests,
    names,
    nesting,
    signals,
    worker_versions,
    workflow_labels,
)
from kontinue.api.digests import json_digest
from kontinue.api.messages import truncate_message
from kontinue.api.signals import SignalState
from kontinue.api.timestamps import format_time_ceil
from kontinue.api.versions import resource_version
from kontinue.client import kubeapi
from kontinue.engine.outcomes import Outcome, finish_status
from kontinue.engine.records import (
    ChildSpec,
    ChildState,
    JobState,
    Progress,
    StepRecord,
    SuspensionState,
    child_state,
    job_state,
    suspension_state,
)
from kontinue.telemetry import trace_ids
from kontinue_worker import fork_seed
from kontinue_worker.claims import applied, holds
from kontinue_worker.jobpods import JobPodDefaults
from kontinue_worker.patches import PER_KEY, merged_status, status_operations
from kontinue_worker.patience import DEFAULT_PATIENCE
from kontinue_worker.patience import Patience as _Patience
from kontinue_worker.waiting import WaitHub

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_CONFLICT_RETRIES = 8

CHUNK_STEPS = 32
"""Step records per journal chunk."""

KEEP_STEPS = 8
"""Step records a compaction leaves in the status (the most recent ones), so the status holds
``KEEP_STEPS`` to ``KEEP_STEPS + CHUNK_STEPS`` of them. Every status write makes the API server
handle the whole object several times over, so a step costs more the more the status holds;
one chunk per ``CHUNK_STEPS`` steps is written whatever this is (docs/benchmarks-floor.md;
it was ``CHUNK_STEPS``, a band of 32 to 64)."""

COMPACT_BYTES = 384 * 1024
"""Stored-value bytes in the status that trigger compaction regardless of the step count."""

CHUNK_BYTES = 640 * 1024
"""Most stored-value bytes one chunk takes (ConfigMaps hold at most 1 MiB)."""


def _arguments_digest(execution: Mapping[str, Any]) -> dict[str, Any]:
    """What the first write of a claim adds: the arguments' digest, unless recorded already.

    A later attempt that reads other arguments fails (see ``check_arguments``); the digest rides
    along with a write the attempt makes anyway.
    """
    if (execution.get("status") or {}).get("argumentsDigest"):
        return {}
    arguments = (execution.get("spec") or {}).get("arguments")
    try:
        nesting.check_depth(arguments, "spec.arguments")
    except nesting.TooDeep:
        return {}  # refused by the attempt; nothing to pin
    return {"argumentsDigest": json_digest(arguments)}


STATUS_ANSWER_ENV = "KONTINUE_STATUS_ANSWER"
"""``full`` makes the journal's status writes ask for the whole Execution back (the behaviour
before the metadata answer, kept for comparison and as a way back); the default, ``metadata``,
asks for its metadata only and applies the write to the worker's own copy of the status."""


def status_answer() -> str:
    """``metadata`` or ``full``, from :data:`STATUS_ANSWER_ENV`."""
    return "full" if os.environ.get(STATUS_ANSWER_ENV, "").strip() == "full" else "metadata"


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


class KubeJournal:
    """Journal of one execution claimed by this worker process (claim counter ``claim``).

    Args:
        kube: the API client.
        execution: the execution as the claim wrote it.
        worker: the identity of this worker process (``status.workerId``).
        hub: the watch-fed caches of children, suspensions and Jobs.
        patience: seconds each API operation rides out transient failures.
        stop: set when the worker stops (ends the retries early).

    Raises:
        Interrupted: the journal chunks could not be read within the patience.
    """

    def __init__(
        self,
        kube: kubeapi.Kube,
        execution: dict[str, Any],
        *,
        worker: str,
        hub: WaitHub,
        patience: float = DEFAULT_PATIENCE,
        stop: threading.Event | None = None,
        job_pods: JobPodDefaults | None = None,
    ) -> None:
        self._kube = kube
        self._obj = execution
        self._worker = worker
        self._hub = hub
        self.patience = patience
        self._stopping = stop
        self._job_pods = job_pods or JobPodDefaults()
        self._claim = int(execution["status"]["claim"])
        self._pending: dict[str, dict[str, Any]] = {}
        self._first_write = _arguments_digest(execution)
        self._digests: dict[str, str] = {}
        """What this attempt asked of the child objects it created or adopted, by name."""
        self._steps: dict[str, StepRecord] = {}
        self._archived_steps: dict[str, StepRecord] = {}
        self._archived_state: dict[str, Any] = {}
        self._load_chunks()
        seeded = self._seed_fork()
        self._parse_steps()
        self._borrowed = forks.borrowed({**(execution.get("status") or {}), **seeded}, self._steps)
        """Objects of the steps a fork copied, read as its original's: name -> owner uid."""
        self._canceled = threading.Event()
        self._read_marks: dict[tuple[str, str, str], int] = {}  # key -> hub changes at its read
        self._lock = threading.Lock()
        self._workflow_message = False
        self._labels: dict[str, str] | None = None
        """The workflow labels this attempt wants (None: it set none), written lazily."""
        self.taken: str | None = None
        """Why the execution was taken from this attempt (canceled, timed out, handed over)."""
        self.taken_phase: str | None = None
        """The phase the execution had when it was taken (``gone`` when it was deleted)."""
        meta = execution["metadata"]
        self._parent_base = manifests.Parent(
            name=meta["name"],
            uid=meta["uid"],
            root=manifests.root_of(execution),
            worker_group=(execution.get("spec") or {}).get("workerGroup") or "default",
            step="",
        )
        if (execution.get("spec") or {}).get("cancel"):
            self._canceled.set()
        self._trace = trace_ids.execution_trace(execution)
        self.keep_steps = KEEP_STEPS
        """Step records a compaction leaves in the status (see :data:`KEEP_STEPS`)."""
        self.status_answer = status_answer()
        """What a status write asks back: ``metadata`` (the default) or the ``full`` object."""

    # -- identity ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self._obj["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self._obj["metadata"]["namespace"])

    @property
    def canceled(self) -> threading.Event:
        return self._canceled

    @property
    def claim(self) -> int:
        """The claim counter this journal writes under."""
        return self._claim

    def execution(self) -> Mapping[str, Any]:
        return self._obj

    def now(self) -> datetime:
        return datetime.now(UTC)

    def observe(self, current: Mapping[str, Any], *, gone: bool = False) -> None:
        """A newer copy of the execution from the watch: unwind if it was taken away."""
        if not gone and resource_version(current) < resource_version(self._obj):
            return  # a late event from before this claim
        if gone or not self._still_mine(current):
            status = current.get("status") or {}
            phase = status.get("phase") or "gone"
            self.taken_phase = "gone" if gone else phase
            self.taken = f"{phase}: {status.get('message') or 'taken from this worker'}"
            self._canceled.set()
        elif (current.get("spec") or {}).get("cancel"):
            self._canceled.set()

    # -- fenced writes -----------------------------------------------------------------------

    def _still_mine(self, current: Mapping[str, Any]) -> bool:
        return holds(current, self._worker, self._claim)

    def write(self, status_patch: Mapping[str, Any]) -> None:
        """Merge ``status_patch`` (plus pending step records) into the status, fenced.

        Conditional on the resourceVersion last seen. A conflict re-reads: still this claim
        means retry on the new version, anything else means fenced. A failure that leaves the
        outcome unknown (the connection broke, the server timed out) re-reads as well: the
        same version means it was not applied, the patch's values present mean it was (its
        answer was lost), and otherwise it is retried or fenced as after a conflict. So a step
        is never written twice nor dropped. Transient failures are retried with backoff for
        :attr:`patience` seconds; then the attempt is interrupted (released for a later claim).

        Raises:
            Fenced: the execution is no longer this claim's (or was deleted).
            Interrupted: the API server could not be reached for too long.
            ValidationError: the API server refused the status (too large, invalid).
        """
        with self._lock:
            patch = dict(self._first_write)
            for key, value in status_patch.items():  # a fork's first write carries its copy
                earlier = patch.get(key)
                if key in PER_KEY and isinstance(value, Mapping) and isinstance(earlier, Mapping):
                    patch[key] = {**earlier, **value}
                else:
                    patch[key] = value
            if self._labels is not None:  # the workflow's labels ride along
                change = workflow_labels.diff(workflow_labels.of(self._obj), self._labels)
                if change:
                    patch[workflow_labels.STATUS_FIELD] = change
            if self._pending:
                steps = dict(patch.get("steps") or {})
                patch["steps"] = {**self._pending, **steps}
            retry = _Patience(self.patience, self._stopping)
            conflicts = 0
            while True:
                base = self._obj["metadata"]["resourceVersion"]
                try:
                    self._obj = self._patch_status(patch, base)
                except kubeapi.Conflict:
                    conflicts += 1
                    if conflicts > _MAX_CONFLICT_RETRIES:
                        raise errors.InfrastructureError(
                            f"status of {self.name} kept changing under "
                            f"{_MAX_CONFLICT_RETRIES} retries"
                        ) from None
                    if self._learn(patch, base, retry):
                        break
                    continue
                except kubeapi.NotFound:
                    raise self._fenced("it was deleted") from None
                except kubeapi.TooLarge as exc:
                    raise errors.ValidationError(
                        f"the execution's status would exceed the object size limit: {exc.message}"
                    ) from exc
                except kubeapi.Invalid as exc:
                    raise errors.ValidationError(
                        f"the API server refused the execution's status: {exc.message}"
                    ) from exc
                except (kubeapi.Unreachable, kubeapi.ServerError, kubeapi.ApiError) as exc:
                    retry.wait(f"writing the status of {self.name}", exc)
                    if self._learn(patch, base, retry):
                        break
                    continue
                break
            self._pending.clear()
            self._first_write = {}
            for name, raw in (patch.get("steps") or {}).items():
                if raw is not None:
                    self._steps[name] = StepRecord.from_status(name, raw)

    def _patch_status(self, patch: Mapping[str, Any], base: str) -> dict[str, Any]:
        """One conditional status PATCH; the execution as it now is on the server.

        With :attr:`status_answer` ``metadata`` the server sends back only the metadata and
        the status is this write applied to the copy it was conditional on: the write only
        lands on exactly that version, so the result is what the server stored (see
        :func:`~kontinue_worker.patches.merged_status`).
        """
        metadata_only = self.status_answer == "metadata"
        answer = self._kube.json_patch(
            kubeapi.EXECUTIONS,
            self.namespace,
            self.name,
            status_operations(self._obj.get("status"), patch),
            subresource="status",
            resource_version=base,
            metadata_only=metadata_only,
        )
        if answer.get("kind") != "PartialObjectMetadata":
            return answer  # the whole object (asked for, or a server that cannot trim it)
        return {
            **self._obj,
            "metadata": answer["metadata"],
            "status": merged_status(self._obj.get("status"), patch),
        }

    def _learn(self, patch: Mapping[str, Any], base: str, retry: _Patience) -> bool:
        """After a failed or unanswered write: True when it was applied after all.

        Otherwise the journal holds the current object (still this claim) to write again on.
        """
        current = self._read(retry)
        if current is None:
            raise self._fenced("it was deleted")
        version = current["metadata"]["resourceVersion"]
        if version != base and applied(current.get("status") or {}, patch):
            log.info("status write of %s: the write landed; only its answer was lost", self.name)
            self._obj = current
            return True
        if not self._still_mine(current):
            raise self._fenced("another claim holds it")
        self._obj = current
        self._parse_steps()
        if (current.get("spec") or {}).get("cancel"):
            self._canceled.set()
        return False

    def _read(self, retry: _Patience) -> dict[str, Any] | None:
        """GET the execution, retrying transient failures within ``retry``'s patience."""
        while True:
            try:
                return self._kube.get_or_none(kubeapi.EXECUTIONS, self.namespace, self.name)
            except (kubeapi.Unreachable, kubeapi.ServerError, kubeapi.ApiError) as exc:
                retry.wait(f"reading {self.name}", exc)

    def _fenced(self, why: str) -> errors.Fenced:
        log.warning(
            "execution %s/%s is no longer claimed by %s (claim %d): %s; fenced",
            self.namespace, self.name, self._worker, self._claim, why,
        )  # fmt: skip
        return errors.Fenced(f"lost the claim on {self.name}: {why}")

    # -- steps -------------------------------------------------------------------------------

    def _parse_steps(self) -> None:
        raw = (self._obj.get("status") or {}).get("steps") or {}
        self._steps = dict(self._archived_steps)
        self._steps.update({name: StepRecord.from_status(name, rec) for name, rec in raw.items()})

    def _chunk_name(self, index: int) -> str:
        return names.journal_chunk_name(self.name, index)

    def _load_chunks(self) -> None:
        """Read the compacted history, trusting only chunks this execution wrote.

        The decoding (ownership, digests) is :func:`kontinue.api.journal_chunks.decode`, which
        the history export shares: a chunk someone replaced or changed fails the attempt
        clearly instead of being replayed.

        Raises:
            ValidationError: a chunk is missing, foreign or changed.
            Interrupted: the chunks could not be listed within the patience.
        """
        if not journal_chunks.chunk_count(self._obj):
            return
        listing = self._retrying(
            f"reading the journal of {self.name}",
            lambda: self._kube.list(
                kubeapi.CONFIGMAPS,
                self.namespace,
                label_selector=journal_chunks.label_selector(self.name),
            ),
        )
        compacted = journal_chunks.decode(self._obj, listing.get("items") or [])
        for step, raw in compacted.steps.items():
            self._archived_steps[step] = StepRecord.from_status(step, raw)
        self._archived_state.update(compacted.state)

    def _seed_fork(self) -> dict[str, Any]:
        """A fork's first claim: copy the original's history (see :mod:`.fork_seed`).

        Returns what the first write adds (nothing when there is nothing to copy).
        """
        if not fork_seed.needed(self._obj):
            return {}
        seeded = fork_seed.seed(
            self._kube, self._obj, self._retrying, chunk_steps=CHUNK_STEPS,
            keep_steps=KEEP_STEPS, chunk_bytes=CHUNK_BYTES, compact_bytes=COMPACT_BYTES,
        )  # fmt: skip
        first = seeded.first_write
        for step, raw in {**seeded.chunk_steps, **(first.get("steps") or {})}.items():
            self._archived_steps[step] = StepRecord.from_status(step, raw)
        self._archived_state.update(seeded.chunk_state)
        self._archived_state.update(first.get("state") or {})
        self._first_write.update(first)
        return first

    def _check_existing_chunk(self, name: str, digest: str) -> None:
        """A chunk that exists already must be this execution's, with the same steps.

        Raises:
            ValidationError: it is someone else's or holds other steps.
        """
        existing = self._retrying(
            f"reading journal chunk {name}",
            lambda: self._kube.get(kubeapi.CONFIGMAPS, self.namespace, name),
        )
        try:
            found = journal_chunks.chunk_digest(*journal_chunks.chunk_content(existing))
        except ValueError:
            found = ""
        if not adoption.owned_by(existing, self._obj["metadata"]["uid"]) or found != digest:
            raise errors.ValidationError(
                f"a ConfigMap named {name} exists but is not this execution's journal chunk "
                f"({self.name}): the name is taken"
            )

    def _label_value(self) -> str:
        return names.journal_label(self.name)

    def _compaction(self) -> dict[str, Any]:
        """The status patch that moves the oldest step records into a new chunk, or {}."""
        status = self._obj.get("status") or {}
        steps = status.get("steps") or {}
        state = status.get("state") or {}
        if len(steps) < CHUNK_STEPS + self.keep_steps and _size(state) < COMPACT_BYTES:
            return {}
        oldest = sorted(steps, key=lambda n: int(steps[n].get("index", 0)))
        moved_steps: dict[str, Any] = {}
        moved_state: dict[str, Any] = {}
        size = 0
        for name in oldest[:CHUNK_STEPS]:
            value_size = _size(state[name]) if name in state else 0
            if moved_steps and size + value_size > CHUNK_BYTES:
                break
            moved_steps[name] = steps[name]
            if name in state:
                moved_state[name] = state[name]
                size += value_size
        journal = status.get("journal") or {}
        index = int(journal.get("chunks") or 0)
        digest = journal_chunks.chunk_digest(moved_steps, moved_state)
        chunk = {
            "apiVersion": "v1", "kind": "ConfigMap", "immutable": True,
            "metadata": {
                "name": self._chunk_name(index),
                "labels": {labels.JOURNAL: self._label_value()},
                "ownerReferences": [{"apiVersion": "kontinue.cloud/v1alpha1",
                                     "kind": "Execution", "name": self.name,
                                     "uid": self._parent_base.uid, "controller": True}],
            },
            "data": {"index": str(index), "steps": json.dumps(moved_steps),
                     "state": json.dumps(moved_state)},
        }  # fmt: skip
        try:
            self._kube.create(kubeapi.CONFIGMAPS, self.namespace, chunk)
        except kubeapi.AlreadyExists:
            # an earlier run of this claim chain wrote the same committed steps, or someone
            # took the name: only the former is kept
            self._check_existing_chunk(self._chunk_name(index), digest)
        except (kubeapi.ApiError, kubeapi.Unreachable) as exc:
            log.warning("compacting the journal of %s failed: %s", self.name, exc)
            return {}  # the next store step tries again
        for name, raw in moved_steps.items():
            self._archived_steps[name] = StepRecord.from_status(name, raw)
        self._archived_state.update(moved_state)
        digests = list(journal.get("digests") or [])[:index]
        return {
            "steps": dict.fromkeys(moved_steps),
            "state": dict.fromkeys(moved_state),
            "journal": {"chunks": index + 1, "digests": [*digests, digest]},
        }

    def steps(self) -> Mapping[str, StepRecord]:
        return self._steps

    def stored(self, name: str) -> Any:
        state = (self._obj.get("status") or {}).get("state") or {}
        return state[name] if name in state else self._archived_state.get(name)

    def commit_store(self, record: StepRecord, value: Any) -> None:
        patch = self._compaction()
        patch.setdefault("steps", {})[record.name] = record.to_status()
        if value is not None:
            patch.setdefault("state", {})[record.name] = value
        self.write(patch)

    def record(self, record: StepRecord, *, replace: bool = False) -> None:
        if record.child is not None and record.digest is None:
            record.digest = self._digests.get(record.child)  # what it asked of its object
        if replace or record.name not in self._steps:
            self._pending[record.name] = record.to_status()

    # -- children ----------------------------------------------------------------------------

    def _parent(self, step: str) -> manifests.Parent:
        base = self._parent_base
        return manifests.Parent(base.name, base.uid, base.root, base.worker_group, step)

    def create_child(self, spec: ChildSpec) -> None:
        manifest = manifests.execution_manifest(
            spec.function, spec.arguments, name=spec.name,
            worker_group=self._parent_base.worker_group, retry=spec.retry,
            timeout=spec.timeout, mutex=spec.mutex, display_name=spec.display_name,
            description=spec.description, parent=self._parent(spec.step),
            parent_close_policy=spec.parent_close_policy,
            extra_annotations={
                labels.TRACEPARENT: self._trace.child_traceparent(),
                **worker_versions.inherited(self._obj),  # a child runs on its parent's version
            },
        )  # fmt: skip
        self._hub.observe("Execution", self._create_owned(kubeapi.EXECUTIONS, manifest))

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        """``call()``, retried through transient failures within the patience.

        Raises:
            Interrupted: the failures outlasted the patience.
        """
        retry = _Patience(self.patience, self._stopping)
        while True:
            try:
                return call()
            except (kubeapi.Unreachable, kubeapi.ServerError) as exc:
                retry.wait(what, exc)

    def _create_owned(self, resource: kubeapi.Resource, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a resource this execution owns, or adopt the one an earlier run created.

        A create whose answer was lost is retried; the retry finds the object (AlreadyExists).
        An existing object is adopted only if it is this execution's and asks for what the
        step asks for now (:mod:`kontinue.api.adoption`); anything else under the name is a
        squatter and fails the step.

        Raises:
            ValidationError: the name is taken by another object, or the manifest is invalid.
            InfrastructureError: the API server refused otherwise.
            Interrupted: the API server could not be reached within the patience.
        """
        name, kind = manifest["metadata"]["name"], manifest["kind"]
        digest = adoption.spec_digest(kind, manifest)
        try:
            created = self._retrying(
                f"creating {kind} {name}",
                lambda: self._kube.create(resource, self.namespace, manifest),
            )
        except kubeapi.AlreadyExists:
            created = self._retrying(
                f"reading {kind} {name}", lambda: self._kube.get(resource, self.namespace, name)
            )
            self._verify(kind, created, digest)
        except kubeapi.Invalid as exc:
            raise errors.ValidationError(f"the {kind} {name} is invalid: {exc.message}") from exc
        except kubeapi.ApiError as exc:
            raise errors.InfrastructureError(
                f"creating {kind} {name} failed: {exc}", cause=exc
            ) from exc
        self._digests[name] = digest
        return created

    def _verify(self, kind: str, obj: Mapping[str, Any], digest: str | None) -> None:
        """Refuse an object that is not the one this execution's step created.

        The object of a step a fork copied is its original's (see :mod:`kontinue.api.forks`).

        Raises:
            ValidationError: naming the object and saying what is wrong with it.
        """
        owner = self._borrowed.get(str(obj["metadata"]["name"]), self._parent_base.uid)
        problem = adoption.mismatch(kind, obj, owner, digest)
        if problem is not None:
            raise errors.ValidationError(
                f"{problem} ({self.name}): its name is taken, so the step cannot use it; "
                "delete it or start a new execution"
            )

    def _lookup(self, kind: str, resource: kubeapi.Resource, name: str) -> dict[str, Any] | None:
        """The watch-fed copy of a child resource, else a GET (fed back to the cache).

        The object must be this execution's and, when its step recorded what it asked for,
        still match it.

        Raises:
            ValidationError: the object under that name is not this execution's step's.
        """
        key = (kind, self.namespace, name)
        self._read_marks[key] = self._hub.changes(key)  # before the read: see wait()
        obj = self._hub.lookup(kind, self.namespace, name)
        if obj is None:
            obj = self._retrying(
                f"reading {kind} {name}",
                lambda: self._kube.get_or_none(resource, self.namespace, name),
            )
            if obj is not None:
                self._hub.observe(kind, obj)
        if obj is not None:
            expected = self._digests.get(name) or next(
                (r.digest for r in self._steps.values() if r.child == name and r.digest), None
            )
            self._verify(kind, obj, expected)
        return obj

    def child(self, name: str) -> ChildState | None:
        obj = self._lookup("Execution", kubeapi.EXECUTIONS, name)
        return None if obj is None else child_state(obj)

    # -- suspensions -------------------------------------------------------------------------

    def create_suspension(
        self,
        name: str,
        step: str,
        resume_at: datetime | None,
        display_name: str | None,
        description: str | None,
        timeout: bool = False,
    ) -> SuspensionState:
        manifest = manifests.suspension_manifest(
            name,
            self._parent(step),
            resume_at=format_time_ceil(resume_at) if resume_at else None,
            display_name=display_name,
            description=description,
            timeout=timeout,
        )
        created = self._create_owned(kubeapi.SUSPENSIONS, manifest)
        self._hub.observe("Suspension", created)
        return suspension_state(created)

    def suspension(self, name: str) -> SuspensionState | None:
        obj = self._lookup("Suspension", kubeapi.SUSPENSIONS, name)
        return None if obj is None else suspension_state(obj)

    # -- signals -----------------------------------------------------------------------------

    def signals(self) -> list[SignalState]:
        # the watch-fed copies (the wait below is woken by their changes); until the watch
        # listed once, one LIST. Only this execution's own Signals count (owner uid, labels).
        key = ("Signal", self.namespace, self.name)
        self._read_marks[key] = self._hub.changes(key)
        objects = self._hub.signals(self.namespace, self.name)
        if objects is None:
            objects = (
                self._retrying(
                    f"listing the signals of {self.name}",
                    lambda: self._kube.list(
                        kubeapi.SIGNALS,
                        self.namespace,
                        label_selector=f"{labels.PARENT}={self.name}",
                    ),
                ).get("items")
                or []
            )
        return signals.of_execution(objects, self.name, self._parent_base.uid)

    # -- jobs --------------------------------------------------------------------------------

    def create_job(
        self,
        name: str,
        step: str,
        spec: Mapping[str, Any],
        extra_labels: Mapping[str, str],
        extra_annotations: Mapping[str, str],
    ) -> JobState:
        if not self._hub.jobs:
            raise errors.ValidationError(
                f"step {step} runs a Job, but this worker runs no Job steps (--no-job-steps; "
                "enable them in the chart with worker.jobSteps.enabled)"
            )
        manifest = manifests.job_manifest(
            name, self._parent(step), self._job_pods.apply(spec), extra_labels=extra_labels,
            extra_annotations=extra_annotations,
        )  # fmt: skip
        created = self._create_owned(kubeapi.JOBS, manifest)
        self._hub.observe("Job", created)
        return job_state(created)

    def job(self, name: str) -> JobState | None:
        obj = self._lookup("Job", kubeapi.JOBS, name)
        return None if obj is None else job_state(obj)

    def job_pods(self, name: str) -> list[dict[str, Any]]:
        try:
            pods = self._retrying(
                f"listing the pods of job {name}",
                lambda: self._kube.list(
                    kubeapi.PODS, self.namespace, label_selector=f"{labels.JOB_NAME}={name}"
                )["items"],
            )
        except kubeapi.ApiError as exc:
            raise errors.InfrastructureError(
                f"listing the pods of job {name} failed: {exc}"
            ) from exc
        return sorted(
            pods, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"])
        )

    def pod_logs(self, pod: str, container: str | None, tail_lines: int | None) -> str:
        try:
            return self._retrying(
                f"reading the logs of pod {pod}",
                lambda: self._kube.pod_log(
                    self.namespace, pod, container=container, tail_lines=tail_lines
                ),
            )
        except kubeapi.ApiError as exc:
            raise errors.InfrastructureError(
                f"the logs of pod {pod} cannot be read: {exc}", cause=exc
            ) from exc

    def wait(self, keys: list[tuple[str, str]], timeout: float) -> None:
        # counted from when each object was last read, not from now: a child that finished
        # between the engine's check and this wait wakes it at once instead of being missed
        full = [
            (kind, self.namespace, self.name if kind == "Signal" else name) for kind, name in keys
        ]
        since = [self._read_marks.get(k, self._hub.changes(k)) for k in full]
        self._hub.wait(full, timeout, self._canceled, since)

    # -- status ------------------------------------------------------------------------------

    def set_message(self, message: str) -> None:
        self.write({"message": truncate_message(message)})
        self._workflow_message = True

    def set_progress(self, progress: Progress | None) -> None:
        if progress is None:
            self.write({"progress": None})
            return
        value = progress.status()
        self.write({"progress": value})

    def set_labels(self, change: Mapping[str, str | None]) -> None:
        with self._lock:
            current = self._labels
            if current is None:
                current = workflow_labels.of(self._obj)
            self._labels = workflow_labels.merged(current, change)

    def finish(self, outcome: Outcome) -> None:
        """Write how the attempt ended (fenced like every write)."""
        if outcome.kind == "fenced":
            return
        patch = finish_status(outcome, self._obj, self.now())
        if outcome.kind == "completed" and self._workflow_message:
            patch.pop("message", None)  # the workflow's own last word stays; "waiting..." goes
        try:
            self.write(patch)
        except errors.ValidationError as exc:  # the result or state no longer fits
            self.write(finish_status(Outcome("failed", error=exc), self._obj, self.now()))
