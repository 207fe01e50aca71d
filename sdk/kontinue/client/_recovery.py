"""Retry and fork: running a finished execution again, in place or as a new one.

``Client.retry`` asks the controller to retry a Failed or Canceled execution in place
(:mod:`kontinue.api.retries`); ``Client.fork`` creates a new execution that starts with the
original's history before a step (:mod:`kontinue.api.forks`). Both refuse, with a clear error
and nothing written, what cannot be done.
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Iterator
from typing import Any

from kontinue import errors
from kontinue.api import adoption, forks, journal_chunks, labels, retries
from kontinue.api.phases import execution_phase
from kontinue.client import kubeapi
from kontinue.client._timeouts import WaitTimeout

_WRITE_ATTEMPTS = 6


class RetryRefused(errors.ValidationError):
    """A retry that cannot be done: the execution is not Failed or Canceled, a child, archived."""


class ForkRefused(errors.ValidationError):
    """A fork that cannot be made: no such step, or the original is archived."""


class RetryAndFork:
    """The retry and fork verbs of :class:`~kontinue.client.Client`."""

    kube: kubeapi.Kube
    namespace: str

    def watch(
        self, name: str | None = None, *, namespace: str | None = None, timeout: float | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Stream ``(event type, Execution)`` (implemented by the client)."""
        raise NotImplementedError

    def _execution_or_archived(self, name: str, namespace: str, verb: str) -> dict[str, Any]:
        """The execution; a clear error when it is gone into an archive."""
        try:
            return self.kube.get(kubeapi.EXECUTIONS, namespace, name)
        except kubeapi.NotFound:
            if self.kube.get_or_none(kubeapi.ARCHIVED_EXECUTIONS, namespace, name) is not None:
                refused = RetryRefused if verb == "retried" else ForkRefused
                raise refused(
                    f"execution {name} was archived (ttl.archiveAfter): an archived execution "
                    f"cannot be {verb}; start a new one (kontinue history export has its steps)"
                ) from None
            raise

    def retry(self, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        """Retry a Failed or Canceled execution in place, from its first unfinished step.

        Writes a retry request into the execution's spec (the right to cancel it is the
        right to retry it: patch on executions); the controller then puts it back to Pending,
        and the next attempt replays the committed steps and runs the rest again
        (:mod:`kontinue.api.retries`). A request already pending is not written again.

        Returns:
            The execution with the request written (or already pending).

        Raises:
            RetryRefused: it is not Failed or Canceled (the error names the phase), it is a
                child execution, or it was archived. Nothing is written.
            NotFound: no such execution.
        """
        return self.request_retry(name, namespace=namespace)

    def request_retry(
        self,
        name: str,
        *,
        namespace: str | None = None,
        version: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """:meth:`retry`, optionally moving the execution to worker ``version`` (new code).

        ``request_id`` names the request (default: a new one); sending the same id again, as
        after a lost answer, never retries twice.
        """
        ns = namespace or self.namespace
        request_id = request_id or uuid.uuid4().hex
        for attempt in range(_WRITE_ATTEMPTS):
            current = self._execution_or_archived(name, ns, "retried")
            if (retries.request_of(current) or {}).get("id") == request_id:
                return current  # this very request landed (its answer was lost)
            pending = retries.pending(current)
            if pending is not None and retries.stale(current, pending) is None:
                return current  # someone asked already; the controller performs it once
            refusal = retries.refusal(current)
            if refusal is not None:
                raise RetryRefused(refusal)
            spec: dict[str, Any] = {
                retries.REQUEST_FIELD: retries.request(request_id, current, version)
            }
            if (current.get("spec") or {}).get("cancel"):
                spec["cancel"] = None  # the cancellation is over; the retry takes it back
            try:
                return self.kube.merge_patch(
                    kubeapi.EXECUTIONS, ns, name, {"spec": spec},
                    resource_version=current["metadata"]["resourceVersion"],
                )  # fmt: skip
            except kubeapi.Conflict:
                continue  # it changed since the read: decide again
            except (kubeapi.Unreachable, kubeapi.ServerError):
                time.sleep(min(2.0, 0.2 * 2**attempt))  # re-read: did it land?
        raise errors.InfrastructureError(
            f"could not write the retry request of {name}: it kept changing or the API server "
            "did not answer"
        )

    def wait_retried(
        self, name: str, *, timeout: float | None = None, namespace: str | None = None
    ) -> dict[str, Any]:
        """Wait until the execution's retry request is performed and its new attempts end.

        :meth:`Client.wait <kontinue.client.Client.wait>` would return at once: until the
        controller performs the request, the execution still shows the end it is retried from.

        Raises:
            WaitTimeout: it did not finish in time.
            NotFound: it does not exist (or was deleted while waiting).
        """
        last: dict[str, Any] | None = None
        for event, obj in self.watch(name, namespace=namespace, timeout=timeout):
            if event == "DELETED":
                raise kubeapi.NotFound(404, "NotFound", f"execution {name} was deleted")
            last = obj
            request = retries.pending(obj)
            if execution_phase(obj).terminal and (
                request is None or retries.stale(obj, request) is not None
            ):
                return obj
        phase = execution_phase(last).value if last is not None else "unknown"
        raise WaitTimeout(f"execution {name} is still {phase} after {timeout}s (retry pending)")

    def fork(
        self,
        name: str,
        from_step: str,
        *,
        new_name: str | None = None,
        namespace: str | None = None,
        version: str | None = None,
    ) -> dict[str, Any]:
        """Create a new execution that starts with ``name``'s history before ``from_step``.

        The steps before ``from_step`` replay with their recorded results; ``from_step`` and
        everything after it run (:mod:`kontinue.api.forks`). The original is not changed.

        Args:
            name: the execution to fork (any phase).
            from_step: a step name, or its 1-based number in execution order (as ``kontinue
                get`` numbers the steps; one past the last recorded step is the step that did
                not commit).
            new_name: the fork's name (default: ``<name>-fork-<random>``).
            namespace: the namespace of both.
            version: run the fork on workers of this version only (say, the fixed code);
                by default any worker that takes new executions runs it.

        Returns:
            The created fork.

        Raises:
            ForkRefused: no such step (the message lists them), or it was archived.
            ValidationError: its journal cannot be read or trusted.
            NotFound: no such execution.
            AlreadyExists: ``new_name`` is taken.
        """
        ns = namespace or self.namespace
        original = self._execution_or_archived(name, ns, "forked")
        steps = self._recorded_steps(original, ns)
        try:
            step, index = forks.resolve_step(steps, str(from_step), name)
        except errors.ValidationError as exc:
            raise ForkRefused(str(exc)) from None
        manifest = forks.fork_manifest(original, step, index, new_name, version)
        return self.kube.create(kubeapi.EXECUTIONS, ns, manifest)

    def borrowed_objects(
        self, execution: dict[str, Any], steps: dict[str, Any], namespace: str
    ) -> dict[str, builtins.list[dict[str, Any]]]:
        """For a fork: the original's children, Suspensions and Jobs its copied steps use.

        What a replay of the fork's history reads besides its own objects (see
        :func:`kontinue.api.forks.borrowed`); only objects the original owns.
        """
        borrowed = forks.borrowed(execution.get("status"), steps)
        found: dict[str, builtins.list[dict[str, Any]]] = {
            "children": [], "suspensions": [], "jobs": [],
        }  # fmt: skip
        original = ((execution.get("status") or {}).get(forks.RECORD_FIELD) or {}).get("name")
        if not borrowed or not original:
            return found
        for kind, resource in (
            ("children", kubeapi.EXECUTIONS),
            ("suspensions", kubeapi.SUSPENSIONS),
            ("jobs", kubeapi.JOBS),
        ):
            selector = f"{labels.PARENT}={original}"
            for obj in self.kube.list(resource, namespace, label_selector=selector)["items"]:
                name = obj["metadata"]["name"]
                if name in borrowed and adoption.owned_by(obj, borrowed[name]):
                    found[kind].append(obj)
        return found

    def _recorded_steps(
        self, execution: dict[str, Any], namespace: str
    ) -> dict[str, dict[str, Any]]:
        """Every step record of ``execution``: its journal chunks' and its status's."""
        chunks: builtins.list[dict[str, Any]] = []
        if journal_chunks.chunk_count(execution):
            chunks = (
                self.kube.list(
                    kubeapi.CONFIGMAPS,
                    namespace,
                    label_selector=journal_chunks.label_selector(execution["metadata"]["name"]),
                ).get("items")
                or []
            )
        steps, _ = journal_chunks.full_history(execution, journal_chunks.decode(execution, chunks))
        return steps
