"""The Client's bulk actions: select executions, then cancel or resume each of them.

Each write is conditional, as the single action's is, so a race with the execution finishing
is reported rather than misapplied:

- cancel sets ``spec.cancel`` with a JSON patch that first tests ``status.phase`` is still the
  phase the decision was made on (an execution with no phase yet: its resourceVersion); a
  failed test is settled by a re-read and a new decision. Unlike a resourceVersion
  precondition, the test does not conflict with a worker's step checkpoints, which change no
  phase.
- resume completes each waiting Suspension with a status write conditional on the
  Suspension's resourceVersion (as :meth:`Client.resume_suspension`), after checking that the
  execution controls it (a Suspension planted under the label is left alone).

A write whose answer is lost (a timeout, a dropped connection, a 5xx) is settled by a re-read:
if it took effect it is reported done, else it is sent again, a few times at most.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kontinue.api import adoption, conversion, labels, selectors, suspension_ends, workflow_labels
from kontinue.api.phases import Phase, SuspensionPhase, suspension_phase
from kontinue.client import bulk, kubeapi
from kontinue.client._recovery import RetryRefused
from kontinue.client.bulk import BulkReport, Outcome, Result, Selection, Skip

ATTEMPTS = 6
"""Writes one execution's action sends at most (each after a re-read of what changed)."""

Targets = Selection | Sequence[Mapping[str, Any]]
"""A :class:`~kontinue.client.bulk.Selection`, or the executions themselves (as read)."""


def _meta(execution: Mapping[str, Any]) -> tuple[str, str]:
    meta = execution.get("metadata") or {}
    return str(meta["namespace"]), str(meta["name"])


def _transient_pause(attempt: int) -> None:
    time.sleep(min(2.0, 0.2 * 2**attempt))


class BulkActions:
    """Mixed into :class:`~kontinue.client.Client`: selections and the actions on them."""

    kube: kubeapi.Kube
    namespace: str

    if TYPE_CHECKING:

        def whoami(self) -> str:
            """Defined by the Client."""
            ...

        def request_retry(
            self,
            name: str,
            *,
            namespace: str | None = None,
            version: str | None = None,
            request_id: str | None = None,
        ) -> dict[str, Any]:
            """Defined by the Client (its retry and fork part)."""
            ...

    # -- selecting ---------------------------------------------------------------------------

    def select(self, selection: Selection) -> builtins.list[dict[str, Any]]:
        """The executions ``selection`` matches, ordered by namespace and name.

        Named executions that do not exist are left out (a bulk action reports them).
        """
        return self._select(selection)[0]

    def _select(
        self, selection: Selection
    ) -> tuple[builtins.list[dict[str, Any]], builtins.list[str]]:
        """The matching executions, and the names given that do not exist."""
        namespace = selection.namespace or self.namespace
        found: builtins.list[dict[str, Any]] = []
        missing: builtins.list[str] = []
        if selection.names:
            for name in dict.fromkeys(selection.names):
                execution = self.kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
                if execution is None:
                    missing.append(name)
                else:
                    found.append(execution)
        else:
            # the workflow's own labels are in the status: the server selects on what only
            # metadata can hold, the rest is matched here (as Client.list does)
            server, local = selectors.split(selection.label_selector or None)
            fields = []
            if len(selection.functions) == 1:
                fields.append(f"spec.function={selection.functions[0]}")
            if len(selection.phases) == 1 and selection.phases[0] != Phase.PENDING:
                fields.append(f"status.phase={selection.phases[0].value}")  # none yet: Pending
            token: str | None = None
            while True:
                page = self.kube.list(
                    kubeapi.EXECUTIONS,
                    None if selection.all_namespaces else namespace,
                    label_selector=server,
                    field_selector=",".join(fields) or None,
                    limit=500,
                    continue_token=token,
                )
                found.extend(
                    item
                    for item in page.get("items") or []
                    if local is None or local(workflow_labels.effective(item))
                )
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    break
        chosen = [e for e in found if selection.matches(e)]
        chosen.sort(key=_meta)
        return chosen, missing

    def _bulk(
        self,
        action: str,
        targets: Targets,
        act: bulk.Action,
        eligible: bulk.Eligibility,
        dry_run: bool,
        workers: int,
    ) -> BulkReport:
        missing: builtins.list[Outcome] = []
        if isinstance(targets, Selection):
            executions, absent = self._select(targets)
            namespace = targets.namespace or self.namespace
            missing = [Outcome(namespace, n, "", Result.FAILED, "not found") for n in absent]
        else:
            executions = [dict(e) for e in targets]
        report = bulk.run(action, executions, act, eligible, dry_run=dry_run, workers=workers)
        return BulkReport(action, [*report.outcomes, *missing], dry_run)

    # -- cancel ------------------------------------------------------------------------------

    def cancel_many(
        self, targets: Targets, *, dry_run: bool = False, workers: int = bulk.DEFAULT_WORKERS
    ) -> BulkReport:
        """Request cancellation of every unfinished execution of ``targets`` (and their trees).

        Finished executions, and those whose cancellation was already requested, are skipped;
        one that finishes while the request is on its way is reported skipped, not canceled.
        One API write per canceled execution (another after each race it loses).
        """
        return self._bulk("cancel", targets, self._cancel_one, bulk.unfinished, dry_run, workers)

    def _cancel_one(self, execution: Mapping[str, Any]) -> str:
        namespace, name = _meta(execution)
        current: Mapping[str, Any] = execution
        sent = False
        for attempt in range(ATTEMPTS):
            if sent and (current.get("spec") or {}).get("cancel"):
                return "cancel requested"  # the unheard write took effect
            reason = bulk.unfinished(current)
            if reason is not None:
                raise Skip(reason)
            if (current.get("spec") or {}).get("cancel"):
                raise Skip("cancel already requested")
            try:
                self.kube.json_patch(
                    kubeapi.EXECUTIONS, namespace, name, self._cancel_patch(current),
                    metadata_only=True,
                )  # fmt: skip
                return "cancel requested"
            except kubeapi.NotFound as exc:
                raise Skip("deleted meanwhile") from exc
            except (kubeapi.Conflict, kubeapi.Invalid):
                pass  # the phase (or version) it was decided on changed: decide again
            except (kubeapi.Unreachable, kubeapi.ServerError):
                sent = True
                _transient_pause(attempt)
            current = self._reread(namespace, name)
        raise RuntimeError(f"execution {name} kept changing; nothing was written, try again")

    @staticmethod
    def _cancel_patch(execution: Mapping[str, Any]) -> builtins.list[dict[str, Any]]:
        """``spec.cancel`` set, only while the phase is the one the decision was made on."""
        phase = (execution.get("status") or {}).get("phase")
        if phase:
            guard = {"op": "test", "path": "/status/phase", "value": phase}
        else:  # no phase yet (Pending): the object exactly as read
            version = execution["metadata"]["resourceVersion"]
            guard = {"op": "test", "path": "/metadata/resourceVersion", "value": version}
        return [guard, {"op": "add", "path": "/spec/cancel", "value": True}]

    def _reread(self, namespace: str, name: str) -> dict[str, Any]:
        try:
            return self.kube.get(kubeapi.EXECUTIONS, namespace, name)
        except kubeapi.NotFound as exc:
            raise Skip("deleted meanwhile") from exc

    # -- resume ------------------------------------------------------------------------------

    def resume_many(
        self,
        targets: Targets,
        data: Any = None,
        *,
        step: str | None = None,
        resumed_by: str | None = None,
        dry_run: bool = False,
        workers: int = bulk.DEFAULT_WORKERS,
    ) -> BulkReport:
        """Resume every waiting Suspension of each execution of ``targets`` with ``data``.

        With ``step``, only the Suspension that step created. Finished executions and those
        with nothing waiting are skipped. ``resumed_by`` as for :meth:`Client.resume_suspension`
        (default: the user this client authenticates as). One list and one write per resumed
        Suspension.

        Raises:
            ValidationError: ``data`` is not JSON (nothing is resumed).
        """
        payload = conversion.to_json(data, "the resume payload") if data is not None else None
        who = resumed_by
        if who is None and not dry_run:
            who = self.whoami()
        resume = self._resumer(payload, step, who or "")
        return self._bulk("resume", targets, resume, bulk.unfinished, dry_run, workers)

    def retry_many(
        self,
        targets: Targets,
        *,
        version: str | None = None,
        dry_run: bool = False,
        workers: int = bulk.DEFAULT_WORKERS,
    ) -> BulkReport:
        """Retry in place every Failed or Canceled execution of ``targets``.

        Each is one request, as :meth:`Client.retry` writes it (``version``: move each to that
        worker version, as ``kontinue retry --version``). An execution the retry refuses at
        action time (it changed phase meanwhile, it is a child: its parent's retry re-runs
        it) is skipped with the reason.
        """

        def retry(execution: Mapping[str, Any]) -> str:
            namespace, name = _meta(execution)
            try:
                self.request_retry(name, namespace=namespace, version=version)
            except RetryRefused as exc:
                raise Skip(str(exc)) from None
            return "retry requested" + (f" on version {version}" if version else "")

        return self._bulk("retry", targets, retry, bulk.retryable, dry_run, workers)

    def _resumer(
        self, payload: Any, step: str | None, who: str
    ) -> Callable[[Mapping[str, Any]], str]:
        def resume(execution: Mapping[str, Any]) -> str:
            namespace, name = _meta(execution)
            uid = (execution.get("metadata") or {}).get("uid")
            if not uid:  # given without its uid: read it (and its phase) now
                execution = self._reread(namespace, name)
                reason = bulk.unfinished(execution)
                if reason is not None:
                    raise Skip(reason)
                uid = execution["metadata"]["uid"]
            found = self.kube.list(
                kubeapi.SUSPENSIONS, namespace, label_selector=f"{labels.PARENT}={name}"
            ).get("items") or []  # fmt: skip
            waiting = sorted(
                (
                    s for s in found
                    if adoption.owned_by(s, str(uid))
                    and suspension_phase(s) == SuspensionPhase.SUSPENDED
                    and (step is None or (s.get("spec") or {}).get("step") == step)
                ),
                key=lambda s: str(s["metadata"]["name"]),
            )  # fmt: skip
            where = f" at step {step}" if step else ""
            if not waiting:
                raise Skip(f"no waiting suspension{where}")
            resumed: builtins.list[str] = []
            for suspension in waiting:
                try:
                    if self._resume_suspension(suspension, payload, who):
                        resumed.append(str(suspension["metadata"]["name"]))
                except (kubeapi.ApiError, kubeapi.Unreachable, RuntimeError) as exc:
                    if not resumed:
                        raise
                    raise RuntimeError(f"resumed {', '.join(resumed)}; then: {exc}") from exc
            if not resumed:
                raise Skip(f"no waiting suspension{where} (they ended meanwhile)")
            return f"resumed {', '.join(resumed)}"

        return resume

    def _resume_suspension(self, suspension: Mapping[str, Any], payload: Any, who: str) -> bool:
        """Complete one Suspension; False when it ended otherwise first."""
        namespace, name = _meta(suspension)
        current: Mapping[str, Any] = suspension
        sent = False
        for attempt in range(ATTEMPTS):
            if suspension_phase(current) != SuspensionPhase.SUSPENDED:
                mine = (current.get("status") or {}).get("resumedBy") == who
                return sent and mine and suspension_phase(current) == SuspensionPhase.COMPLETED
            status = suspension_ends.completed(current, who, datetime.now(UTC), payload)
            try:
                self.kube.merge_patch(
                    kubeapi.SUSPENSIONS, namespace, name, {"status": status},
                    subresource="status", resource_version=current["metadata"]["resourceVersion"],
                )  # fmt: skip
                return True
            except kubeapi.NotFound:
                return False
            except kubeapi.Conflict:
                pass
            except (kubeapi.Unreachable, kubeapi.ServerError):
                sent = True
                _transient_pause(attempt)
            refreshed = self.kube.get_or_none(kubeapi.SUSPENSIONS, namespace, name)
            if refreshed is None:
                return False
            current = refreshed
        raise RuntimeError(f"suspension {name} kept changing; nothing was written, try again")
