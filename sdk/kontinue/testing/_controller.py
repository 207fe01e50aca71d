"""The controller's part, played by the environment: every status change is a transition.

Sleeps and backoffs end, overall and attempt timeouts strike, released executions wake by
:mod:`kontinue.api.waits`'s rule, cancels reach a whole tree, the children of a parent whose
attempt ended are canceled as their parent-close policy says, and a test's resume completes a
suspension; each through :mod:`kontinue.api.transitions`, :mod:`kontinue.api.policy` and
:mod:`kontinue.api.deadlines`, as the controller does on a cluster.
"""

from __future__ import annotations

from typing import Any

from kontinue import errors
from kontinue.api import (
    conversion,
    deadlines,
    fan_out,
    parent_close,
    policy,
    signals,
    suspension_ends,
    transitions,
    waits,
)
from kontinue.api.phases import Phase, SuspensionPhase, execution_phase, suspension_phase
from kontinue.testing._cluster import Cluster, ExecutionRecord
from kontinue.testing._errors import WorkflowEnvironmentError
from kontinue.testing._suspensions import waiting_suspensions


def end_sleep(cluster: Cluster, obj: dict[str, Any]) -> None:
    """A timed suspension (a sleep) reached its ``resumeAt``."""
    if suspension_phase(obj) != SuspensionPhase.SUSPENDED:
        return
    obj["status"] = suspension_ends.timer_ended(obj, cluster.now)
    cluster.stamp(obj)


def end_backoff(cluster: Cluster, record: ExecutionRecord) -> None:
    """An execution's backoff ended: it is Pending again."""
    if execution_phase(record.obj) != Phase.BACKOFF:
        return
    cluster.apply(
        record,
        transitions.wake(record.obj.get("status"), "retrying after backoff", nextAttemptAt=None),
    )


def time_out(cluster: Cluster, record: ExecutionRecord) -> None:
    """An execution exceeded its overall timeout: it fails, its tree is canceled."""
    if execution_phase(record.obj).terminal:
        return
    limit = policy.timeout_of(record.obj, cluster.defaults(record)).get("overall")
    error = errors.OverallTimeoutError(f"the execution exceeded its overall timeout of {limit}")
    # not retryable: Failed, no next attempt (the controller's own transition)
    cluster.apply(
        record,
        transitions.fail(record.obj.get("status"), error, policy.retry_of(record.obj), cluster.now),
    )
    name = record.obj["metadata"]["name"]
    for child in cluster.owned(name):
        cancel_tree(cluster, child, f"execution {name} exceeded its overall timeout")
    cancel_suspensions(cluster, name)


def cancel_suspensions(cluster: Cluster, owner: str) -> None:
    """Cancel the suspensions of execution ``owner`` that still wait."""
    for obj in cluster.suspensions.values():
        if obj["spec"]["execution"] == owner and suspension_phase(obj) == SuspensionPhase.SUSPENDED:
            obj["status"] = suspension_ends.canceled(obj, cluster.now)
            cluster.stamp(obj)


def cancel_tree(cluster: Cluster, record: ExecutionRecord, message: str) -> None:
    """Cancel an execution, its children (depth first) and their suspensions."""
    name = record.obj["metadata"]["name"]
    for child in cluster.owned(name):
        cancel_tree(cluster, child, message)
    cancel_suspensions(cluster, name)
    if not execution_phase(record.obj).terminal:
        record.canceled.set()
        cluster.apply(record, transitions.cancel(record.obj.get("status"), message, cluster.now))


def close_children(cluster: Cluster) -> bool:
    """Cancel the ``cancel``-policy children of parents whose attempt ended; True if one was.

    The controller's parent-close duty (:mod:`kontinue.api.parent_close`'s rule).
    """
    acted = False
    for record in list(cluster.executions.values()):
        name = record.obj["metadata"]["name"]
        owned = {c.obj["metadata"]["name"]: c for c in cluster.owned(name)}
        for child in parent_close.to_cancel(record.obj, [c.obj for c in owned.values()]):
            cancel_tree(
                cluster, owned[child["metadata"]["name"]], parent_close.close_message(record.obj)
            )
            acted = True
    return acted


def wake_ready(cluster: Cluster) -> bool:
    """Wake every released execution whose waits all resolved; True if one woke."""
    woke = False
    for record in cluster.executions.values():
        obj = record.obj
        if execution_phase(obj) != Phase.SUSPENDED:
            continue
        items = (obj.get("status") or {}).get("suspendedOn") or []
        resolved = []
        for item in items:
            if item["kind"] == "Signal":
                resolved.append(waits.signal_resolved(item, obj, cluster.signals.values()))
                continue
            found = cluster.object(item["kind"], item["name"])
            resolved.append(found is None or waits.resolved(item["kind"], found, cluster.now))
        progress = fan_out.progress_update(obj, sum(resolved))
        if waits.wakes(items, resolved):
            waited = ", ".join(f"{i['kind'].lower()} {i['name']}" for i in items)
            cluster.apply(record, transitions.wake(
                obj.get("status"), f"resuming: {waited or 'nothing'} done",
                suspendedOn=None, **({"progress": progress} if progress else {}),
            ))  # fmt: skip
            woke = True
        elif progress is not None:
            cluster.apply(record, {"progress": progress})
    return woke


def check_attempt(cluster: Cluster, record: ExecutionRecord) -> None:
    """End the running attempt if a timeout passed meanwhile (the claim is then lost)."""
    overall = deadlines.overall_deadline(record.obj, cluster.defaults(record))
    if overall is not None and overall <= cluster.now:
        time_out(cluster, record)
        raise errors.Fenced("the execution timed out; the controller ended it")
    deadline = deadlines.attempt_deadline(record.obj)
    if deadline is None or deadline > cluster.now:
        return
    limit = policy.timeout_of(record.obj).get("attempt")
    number = (record.obj.get("status") or {}).get("attempt") or 1
    error = errors.AttemptTimeoutError(f"attempt {number} exceeded its timeout of {limit}")
    status = transitions.fail(
        record.obj.get("status"), error, policy.retry_of(record.obj), cluster.now
    )
    cluster.apply(record, status)
    raise errors.Fenced("the attempt timed out; the controller ended it")


def resume(cluster: Cluster, owner: str, suspension: str | None, data: Any) -> None:
    """Complete the one waiting suspension of ``owner`` that ``suspension`` names.

    Raises:
        WorkflowEnvironmentError: no such waiting suspension (or several, without a name).
    """
    candidates = waiting_suspensions(cluster.suspensions.values(), owner)
    if suspension is not None:
        candidates = [w for w in candidates if suspension in (w.name, w.step, w.display_name)]
    if len(candidates) != 1:
        listed = (
            ", ".join(
                w.display_name or w.step
                for w in waiting_suspensions(cluster.suspensions.values(), owner)
            )
            or "none"
        )
        raise WorkflowEnvironmentError(
            f"execution {owner} has {len(candidates)} waiting suspensions matching "
            f"{suspension!r} (waiting: {listed})"
        )
    obj = cluster.suspensions[candidates[0].name]
    conversion.check_depth(data, "the resume payload")
    payload = conversion.to_json(data, "the resume payload") if data is not None else None
    obj["status"] = suspension_ends.completed(obj, "test", cluster.now, payload)
    cluster.stamp(obj)


def signal(cluster: Cluster, owner: str, event: str, data: Any, signal_id: str | None) -> str:
    """Send ``event`` to execution ``owner`` as ``kontinue signal`` does; the Signal's name.

    A second signal with the same id (and content) is the first one: delivered once.

    Raises:
        WorkflowEnvironmentError: no such execution, it finished, a bad event name, or the
            id was used for another event or payload.
    """
    record = cluster.executions.get(owner)
    if record is None:
        raise WorkflowEnvironmentError(f"no execution named {owner}")
    if execution_phase(record.obj).terminal:
        raise WorkflowEnvironmentError(f"execution {owner} already finished: nothing to signal")
    try:
        signals.check_event_name(event)
    except ValueError as exc:
        raise WorkflowEnvironmentError(str(exc)) from None
    conversion.check_depth(data, "the signal's payload")
    payload = conversion.to_json(data, "the signal's payload") if data is not None else None
    sent_id = signal_id or f"test-{next(cluster.ids)}"
    manifest = signals.signal_manifest(record.obj, event, payload, sent_id)
    name = str(manifest["metadata"]["name"])
    existing = cluster.signals.get(name)
    if existing is not None:
        if not signals.same_signal(existing, manifest):
            raise WorkflowEnvironmentError(f"signal id {sent_id!r} was used for another event")
        return name
    manifest["metadata"].update(namespace=cluster.namespace)
    cluster.stamp(manifest)
    cluster.signals[name] = manifest
    return name
