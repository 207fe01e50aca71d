"""``Client``: create, read, watch, wait for, resume, cancel, retry and fork executions.

Waiting is watch-driven (never polling): :meth:`Client.wait` lists the execution once, then
follows a watch from that resourceVersion until a terminal phase or the timeout.
"""

from __future__ import annotations

import builtins
import queue
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kontinue import errors
from kontinue.api import (
    adoption,
    archive,
    conversion,
    history,
    journal_chunks,
    labels,
    manifests,
    selectors,
    suspension_ends,
    workflow_labels,
)
from kontinue.api.options import ExecuteOptions, TTLOptions
from kontinue.api.phases import Phase, SuspensionPhase, execution_phase, suspension_phase
from kontinue.client import kubeapi
from kontinue.client._bulk_actions import BulkActions
from kontinue.client._recovery import RetryAndFork
from kontinue.client._signals import SignalsMixin
from kontinue.client._timeouts import WaitTimeout
from kontinue.client.informer import Informer


class SuspensionNotWaiting(ValueError):
    """A resume of a suspension that already completed or was canceled."""


@dataclass(frozen=True)
class ExecutionHandle:
    """A created execution: its name and namespace, and shortcuts to follow it."""

    name: str
    namespace: str
    client: Client

    def get(self) -> dict[str, Any]:
        """The execution object now."""
        return self.client.get(self.name, namespace=self.namespace)

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for a terminal phase and return the execution."""
        return self.client.wait(self.name, timeout=timeout, namespace=self.namespace)


class Client(BulkActions, RetryAndFork, SignalsMixin):
    """Kubernetes-backed access to kontinue executions.

    Bulk actions on a selection (``select``, ``cancel_many``, ``resume_many``) come from
    :class:`~kontinue.client._bulk_actions.BulkActions`.

    Args:
        namespace: default namespace (default: the kubeconfig context's, else "default").
        kubeconfig: kubeconfig file (default: ``$KUBECONFIG``/``~/.kube/config``/in-cluster).
        context: kubeconfig context.
    """

    def __init__(
        self,
        namespace: str | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
        *,
        kube: kubeapi.Kube | None = None,
    ) -> None:
        self.kube = kube or kubeapi.Kube(kubeconfig, context)
        self.namespace = namespace or self.kube.default_namespace
        self._user: str | None = None

    def whoami(self) -> str:
        """The user name the API server authenticates this client as (a SelfSubjectReview).

        What a resume records in ``status.resumedBy``: the chart's admission policy accepts
        no other name from the user making the request.
        """
        if self._user is None:
            review = self.kube.create(
                kubeapi.SELF_SUBJECT_REVIEWS,
                None,
                {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            )
            self._user = str(((review.get("status") or {}).get("userInfo") or {})["username"])
        return self._user

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    # -- create ------------------------------------------------------------------------------

    def create_execution(
        self,
        function: str,
        arguments: Any = None,
        options: ExecuteOptions | None = None,
        *,
        name: str | None = None,
        generate_name: str | None = None,
        worker_group: str = "default",
        ttl: TTLOptions | None = None,
        labels: Mapping[str, str] | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Create an Execution of ``function``; returns the created object.

        Raises:
            ValidationError: ``options.parent_close_policy`` is set (it is for children).
        """
        if options is not None and options.parent_close_policy is not None:
            raise errors.ValidationError(
                "parent_close_policy is for a child a workflow spawns; a root execution has "
                "no parent"
            )
        manifest = manifests.execution_manifest(
            function,
            conversion.to_json(arguments, "the arguments") if arguments is not None else None,
            name=name,
            generate_name=generate_name,
            worker_group=worker_group,
            retry=options.retry.to_spec() if options and options.retry else None,
            timeout=options.timeout.to_spec() if options and options.timeout else None,
            ttl=ttl.to_spec() if ttl else None,
            mutex=options.mutex.name if options and options.mutex else None,
            display_name=options.display_name if options else None,
            description=options.description if options else None,
            extra_labels=labels,
        )
        return self.kube.create(kubeapi.EXECUTIONS, self._ns(namespace), manifest)

    def spawn_execute(
        self,
        function: str,
        arguments: Any = None,
        options: ExecuteOptions | None = None,
        **kwargs: Any,
    ) -> ExecutionHandle:
        """Create an Execution and return a handle to follow it."""
        created = self.create_execution(function, arguments, options, **kwargs)
        meta = created["metadata"]
        return ExecutionHandle(meta["name"], meta["namespace"], self)

    # -- read --------------------------------------------------------------------------------

    def get(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        """One Execution."""
        return self.kube.get(kubeapi.EXECUTIONS, self._ns(namespace), name)

    def list(
        self,
        *,
        phase: str | None = None,
        function: str | None = None,
        label_selector: str | None = None,
        namespace: str | None = None,
        all_namespaces: bool = False,
    ) -> list[dict[str, Any]]:
        """Executions, optionally filtered by phase, function and labels.

        ``label_selector`` matches an execution's search labels: its metadata labels and the
        labels its workflow set while running (``kontinue.set_labels``, kept in the status).
        The API server selects on the ``kontinue.cloud/`` requirements (only metadata carries
        them); the others are matched here on each listed execution
        (:func:`kontinue.api.selectors.split`).

        Raises:
            SelectorError: ``label_selector`` is not a label selector.
        """
        fields = []
        if phase:
            fields.append(f"status.phase={phase}")
        if function:
            fields.append(f"spec.function={function}")
        ns = None if all_namespaces else self._ns(namespace)
        server, local = selectors.split(label_selector)
        items = self._list_all(kubeapi.EXECUTIONS, ns, server, ",".join(fields) or None)
        if local is None:
            return items
        return [item for item in items if local(workflow_labels.effective(item))]

    def _list_all(
        self,
        resource: kubeapi.Resource,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        items: builtins.list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.kube.list(
                resource,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=500,
                continue_token=token,
            )
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def related(
        self, name: str, *, namespace: str | None = None
    ) -> dict[str, builtins.list[dict[str, Any]]]:
        """An execution's direct ``children``, ``suspensions`` and (job steps') ``jobs``."""
        ns = self._ns(namespace)
        selector = f"{labels.PARENT}={name}"
        return {
            "children": self.kube.list(kubeapi.EXECUTIONS, ns, label_selector=selector)["items"],
            "suspensions": self.kube.list(kubeapi.SUSPENSIONS, ns, label_selector=selector)[
                "items"
            ],
            "jobs": self.kube.list(kubeapi.JOBS, ns, label_selector=selector)["items"],
        }

    def export_history(
        self, name: str, *, namespace: str | None = None, logs: bool = True
    ) -> dict[str, Any]:
        """The complete history of an execution as a history document (:mod:`kontinue.api.history`).

        Reads the Execution, its journal chunks, its children, Suspensions and Jobs, the Jobs'
        pods and (unless ``logs`` is false) what their containers printed: everything a replay
        of the execution reads. Logs that cannot be read (a pod gone) are left out. A root
        execution that was archived is read from its ArchivedExecution (without pods or logs).

        Raises:
            NotFound: the execution does not exist.
            ValidationError: a journal chunk is missing, foreign or changed.
        """
        ns = self._ns(namespace)
        try:
            execution = self.get(name, namespace=ns)
        except kubeapi.NotFound:
            archived = self.kube.get_or_none(kubeapi.ARCHIVED_EXECUTIONS, ns, name)
            if archived is None:
                raise
            return self._archived_history(archived)
        chunks: builtins.list[dict[str, Any]] = []
        if journal_chunks.chunk_count(execution):
            chunks = self._list_all(kubeapi.CONFIGMAPS, ns, journal_chunks.label_selector(name))
        compacted = journal_chunks.decode(execution, chunks)
        related = self.related(name, namespace=ns)
        uid = execution["metadata"]["uid"]
        owned = {
            kind: [o for o in objects if adoption.owned_by(o, uid)]
            for kind, objects in related.items()
        }
        steps, _ = journal_chunks.full_history(execution, compacted)
        for kind, objects in self.borrowed_objects(execution, steps, ns).items():
            owned[kind] += objects  # a fork's copied steps use its original's objects
        pods: dict[str, builtins.list[dict[str, Any]]] = {}
        texts: dict[str, dict[str, str]] = {}
        for job in owned["jobs"]:
            job_name = job["metadata"]["name"]
            found = self.kube.list(
                kubeapi.PODS, ns, label_selector=f"{labels.JOB_NAME}={job_name}"
            )["items"]
            pods[job_name] = sorted(
                found, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"])
            )
            for pod in pods[job_name] if logs else ():
                texts[pod["metadata"]["name"]] = self._pod_logs(ns, pod)
        sent = self.kube.list(kubeapi.SIGNALS, ns, label_selector=f"{labels.PARENT}={name}")
        return history.build(
            execution, compacted, children=owned["children"], suspensions=owned["suspensions"],
            jobs=owned["jobs"], pods=pods, logs=texts, exported_at=datetime.now(UTC),
            signals=[s for s in sent["items"] if adoption.owned_by(s, uid)],
        )  # fmt: skip

    def _archived_history(self, archived: Mapping[str, Any]) -> dict[str, Any]:
        """The history of an archived root execution (its Jobs' pods and logs are gone)."""
        try:
            objects = archive.decode(archived)
        except (ValueError, KeyError) as exc:
            raise errors.ValidationError(
                f"the archive {archived['metadata']['name']} cannot be read: {exc}"
            ) from exc
        root = objects[0]
        uid = root["metadata"]["uid"]

        def owned(kind: str) -> builtins.list[dict[str, Any]]:
            return [o for o in objects[1:] if o.get("kind") == kind and adoption.owned_by(o, uid)]

        chunks = [o for o in objects[1:] if o.get("kind") == "ConfigMap"]
        return history.build(
            root, journal_chunks.decode(root, chunks), children=owned("Execution"),
            suspensions=owned("Suspension"), jobs=owned("Job"), exported_at=datetime.now(UTC),
        )  # fmt: skip

    def _pod_logs(self, namespace: str, pod: Mapping[str, Any]) -> dict[str, str]:
        """What each container of ``pod`` printed (those that cannot be read left out)."""
        found: dict[str, str] = {}
        for container in (pod.get("spec") or {}).get("containers") or []:
            try:
                found[container["name"]] = self.kube.pod_log(
                    namespace, pod["metadata"]["name"], container=container["name"],
                    tail_lines=None,
                )  # fmt: skip
            except (kubeapi.ApiError, kubeapi.Unreachable):
                continue
        return found

    def list_archives(
        self,
        *,
        function: str | None = None,
        namespace: str | None = None,
        all_namespaces: bool = False,
    ) -> builtins.list[dict[str, Any]]:
        """ArchivedExecutions (summary in ``spec.execution``; :meth:`archived_tree` opens one)."""
        ns = None if all_namespaces else self._ns(namespace)
        selector = f"{labels.FUNCTION}={function}" if function else None
        return self._list_all(kubeapi.ARCHIVED_EXECUTIONS, ns, selector)

    def archived_tree(
        self, name: str, *, namespace: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The objects archived as ``name``.

        The root Execution comes first, then its descendant Executions, Suspensions, journal
        chunks (ConfigMaps) and job summaries.
        """
        return archive.decode(self.kube.get(kubeapi.ARCHIVED_EXECUTIONS, self._ns(namespace), name))

    def watch(
        self, name: str | None = None, *, namespace: str | None = None, timeout: float | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Stream ``(event type, Execution)`` from now (the current state first, as ADDED).

        Backed by an :class:`~kontinue.client.Informer`: a dropped connection resumes where it
        was, and an execution deleted while the watch was down is reported as DELETED.
        """
        events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        deadline = None if timeout is None else time.monotonic() + timeout
        informer: Informer[dict[str, Any]] = Informer(
            self.kube,
            kubeapi.EXECUTIONS,
            self._ns(namespace),
            field_selector=f"metadata.name={name}" if name else None,
            on_event=lambda event, obj: events.put((event, obj)),
            name=f"watch-{name or 'executions'}",
            watch_timeout=300 if timeout is None else max(1, min(300, int(timeout) + 1)),
        ).start()
        try:
            while deadline is None or time.monotonic() < deadline:
                left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                try:
                    yield events.get(timeout=max(0.0, left))
                except queue.Empty:
                    continue
        finally:
            informer.stop()

    def wait(
        self, name: str, *, timeout: float | None = None, namespace: str | None = None
    ) -> dict[str, Any]:
        """Wait until the execution reaches a terminal phase; returns it.

        Raises:
            WaitTimeout: it did not finish in time.
            kontinue.client.NotFound: it does not exist (or was deleted while waiting).
        """
        for event, obj in self.watch(name, namespace=namespace, timeout=timeout):
            if event == "DELETED":
                raise kubeapi.NotFound(404, "NotFound", f"execution {name} was deleted")
            if execution_phase(obj).terminal:
                return obj
        current = self.get(name, namespace=namespace)
        if execution_phase(current).terminal:
            return current
        raise WaitTimeout(f"execution {name} is still {execution_phase(current)} after {timeout}s")

    # -- act ---------------------------------------------------------------------------------

    def resume_suspension(
        self,
        name: str,
        data: Any = None,
        *,
        namespace: str | None = None,
        resumed_by: str | None = None,
    ) -> dict[str, Any]:
        """Complete a Suspension (early for a sleep), handing ``data`` to the workflow.

        ``status.resumedBy`` records ``resumed_by``, by default the user this client
        authenticates as (:meth:`whoami`).

        Raises:
            SuspensionNotWaiting: it already completed or was canceled (nothing is changed).
        """
        ns = self._ns(namespace)
        if resumed_by is None:
            resumed_by = self.whoami()
        current = self.kube.get(kubeapi.SUSPENSIONS, ns, name)
        phase = suspension_phase(current)
        if phase != SuspensionPhase.SUSPENDED:
            raise SuspensionNotWaiting(f"suspension {name} is not waiting: it is {phase}")
        payload = conversion.to_json(data, "the resume payload") if data is not None else None
        status = suspension_ends.completed(current, resumed_by, datetime.now(UTC), payload)
        try:
            return self.kube.merge_patch(
                kubeapi.SUSPENSIONS,
                ns,
                name,
                {"status": status},
                subresource="status",
                resource_version=current["metadata"]["resourceVersion"],
            )
        except kubeapi.Conflict:  # it changed meanwhile (resumed, canceled, slept out): look again
            return self.resume_suspension(name, data, namespace=ns, resumed_by=resumed_by)

    def resume_execution(
        self,
        name: str,
        *,
        recursive: bool = False,
        data: Any = None,
        namespace: str | None = None,
        resumed_by: str | None = None,
    ) -> builtins.list[str]:
        """Resume every waiting suspension of an execution; returns the names resumed.

        With ``recursive``, the suspensions of its descendants too. ``resumed_by`` as for
        :meth:`resume_suspension`.
        """
        ns = self._ns(namespace)
        resumed: builtins.list[str] = []
        selector = f"{labels.PARENT}={name}"
        for suspension in (
            self.kube.list(kubeapi.SUSPENSIONS, ns, label_selector=selector).get("items") or []
        ):
            if suspension_phase(suspension) == SuspensionPhase.SUSPENDED:
                self.resume_suspension(
                    suspension["metadata"]["name"], data, namespace=ns, resumed_by=resumed_by
                )
                resumed.append(suspension["metadata"]["name"])
        if recursive:
            for child in (
                self.kube.list(kubeapi.EXECUTIONS, ns, label_selector=selector).get("items") or []
            ):
                resumed += self.resume_execution(
                    child["metadata"]["name"], recursive=True, data=data, namespace=ns,
                    resumed_by=resumed_by,
                )  # fmt: skip
        return resumed

    def cancel(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        """Request cancellation of an execution (and, through the controller, its tree)."""
        return self.kube.merge_patch(
            kubeapi.EXECUTIONS, self._ns(namespace), name, {"spec": {"cancel": True}}
        )

    def trigger_schedule(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        """Run a ScheduledExecution's function now, outside its slots; returns the Execution.

        The run is the schedule's own (owned and labelled by it, with its defaults), named
        ``<schedule>-manual-<unix seconds>``.
        """
        ns = self._ns(namespace)
        schedule = self.kube.get(kubeapi.SCHEDULED_EXECUTIONS, ns, name)
        now = datetime.now(UTC)
        manifest = manifests.scheduled_run_manifest(
            schedule, f"{name[:50]}-manual-{int(now.timestamp())}", now
        )
        return self.kube.create(kubeapi.EXECUTIONS, ns, manifest)

    def suspend_schedule(
        self, name: str, suspend: bool = True, *, namespace: str | None = None
    ) -> dict[str, Any]:
        """Stop (or, with ``suspend=False``, restart) a ScheduledExecution creating runs."""
        ns = self._ns(namespace)
        self.kube.get(kubeapi.SCHEDULED_EXECUTIONS, ns, name)  # a clear not-found
        return self.kube.merge_patch(
            kubeapi.SCHEDULED_EXECUTIONS, ns, name, {"spec": {"suspend": suspend}}
        )

    def phase(self, name: str, *, namespace: str | None = None) -> Phase:
        """The execution's phase now."""
        return execution_phase(self.get(name, namespace=namespace))
