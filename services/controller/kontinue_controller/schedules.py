"""ScheduledExecutions: create an Execution at every slot of a cron schedule, like CronJob.

At each slot (one timer per schedule, at ``nextScheduleTime``) the controller creates the run,
an Execution named after the schedule and the slot (:func:`~.logic.cron.slot_name`) and owned
by the schedule, so a restart or a second look at the same slot never doubles it: creating an
existing name is a no-op. ``concurrencyPolicy`` decides what happens while an earlier run is
still active: ``Allow`` starts the new one too, ``Forbid`` records the slot as a Skipped run,
``Replace`` cancels the active runs and starts the new one. After downtime only the most recent
missed slot runs, and not at all past ``startingDeadlineSeconds``. ``suspend`` stops new runs.

Status: ``active`` (unfinished runs), ``lastScheduleTime``, ``nextScheduleTime``,
``lastSuccessfulTime``, ``lastSkippedTime`` and a ``message`` when the schedule cannot run.
Finished runs beyond ``historyLimit`` are deleted, oldest first.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kontinue.api import labels, manifests, names, timestamps
from kontinue.api.phases import Phase, execution_phase
from kontinue.client import kubeapi
from kontinue_controller.logic import cron
from kontinue_controller.timers import Timers
from kontinue_controller.writes import Writes

log = logging.getLogger(__name__)


def _created(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("creationTimestamp") or "")


def _active(run: dict[str, Any]) -> bool:
    """Unfinished and not on its way out (canceled, or a skipped slot being recorded)."""
    return not execution_phase(run).terminal and not run["spec"].get("cancel")


def schedule_of(execution: dict[str, Any]) -> str | None:
    """The ScheduledExecution that created ``execution`` (its owner), if any."""
    if not (execution["metadata"].get("labels") or {}).get(labels.SCHEDULE):
        return None
    for owner in execution["metadata"].get("ownerReferences") or []:
        if owner.get("kind") == "ScheduledExecution":
            return str(owner.get("name"))
    return None


class Scheduler:
    """Runs the ScheduledExecutions."""

    def __init__(self, kube: kubeapi.Kube, timers: Timers, writes: Writes) -> None:
        self._kube = kube
        self._timers = timers
        self._writes = writes

    def on_run(self, event: str | None, execution: dict[str, Any]) -> None:
        """An Execution changed: a scheduled run that finished or went makes room for the next."""
        schedule = schedule_of(execution)
        if schedule and (event == "DELETED" or execution_phase(execution).terminal):
            self.touch(execution["metadata"]["namespace"], schedule)

    def on_schedule(self, event: str | None, obj: dict[str, Any]) -> None:
        """A ScheduledExecution was listed or changed: look at it now."""
        if event == "DELETED":
            return  # its runs are garbage collected with it
        self.touch(obj["metadata"]["namespace"], obj["metadata"]["name"])

    def touch(self, namespace: str, name: str) -> None:
        """Look at a schedule again soon (a run finished, the spec changed)."""
        key = ("ScheduledExecution", namespace, name)
        self._timers.soon("schedule-sync", key, lambda: self.sync(namespace, name))

    def sync(self, namespace: str, name: str) -> None:
        """Run what is due, prune the history, write the status, set the next timer."""
        kube = self._kube
        schedule = kube.get_or_none(kubeapi.SCHEDULED_EXECUTIONS, namespace, name)
        if schedule is None or schedule["metadata"].get("deletionTimestamp"):
            return
        spec, status = schedule["spec"], dict(schedule.get("status") or {})
        expression, zone = spec["schedule"], spec.get("timeZone")
        patch: dict[str, Any] = {}
        try:
            cron.validate(expression, zone)
        except cron.ScheduleError as exc:
            if status.get("message") != str(exc):
                self._writes.post_event(schedule, "InvalidSchedule", str(exc), warning=True)
                self._write(schedule, {"message": str(exc), "nextScheduleTime": None})
            return
        now = datetime.now(UTC)
        selector = f"{labels.SCHEDULE}={names.label_value(name)}"
        runs = kube.list(kubeapi.EXECUTIONS, namespace, label_selector=selector)["items"]
        runs = [r for r in runs if self._owns(schedule, r)]
        since = timestamps.parse_time(status.get("lastScheduleTime")) or timestamps.parse_time(
            schedule["metadata"]["creationTimestamp"]
        )
        assert since is not None
        try:
            due = cron.due(
                expression,
                zone,
                since=since,
                now=now,
                starting_deadline_seconds=spec.get("startingDeadlineSeconds"),
            )
        except cron.ScheduleError as exc:
            if status.get("message") != str(exc):
                self._writes.post_event(schedule, "InvalidSchedule", str(exc), warning=True)
                self._write(schedule, {"message": str(exc), "nextScheduleTime": None})
            return
        if due.too_late:
            self._writes.post_event(
                schedule,
                "MissedSchedule",
                f"missed {due.missed + 1} runs; the latest is older than the starting deadline",
                warning=True,
            )
        if due.slot is not None and not spec.get("suspend"):
            created = self._start(schedule, due.slot, runs)
            if created is not None:
                runs.append(created)
            patch["lastScheduleTime"] = timestamps.format_time(due.slot)
            if due.missed:
                self._writes.post_event(
                    schedule, "MissedSchedule", f"skipped {due.missed} missed runs after downtime"
                )
            if created is not None and created["spec"].get("cancel"):
                patch["lastSkippedTime"] = timestamps.format_time(due.slot)
        runs = self._prune(schedule, runs)
        active = sorted(filter(_active, runs), key=_created)
        patch["active"] = [
            {
                "name": r["metadata"]["name"],
                **self._scheduled_at(r),
            }
            for r in active
        ] or None
        succeeded = [
            (r.get("status") or {}).get("finishedAt")
            for r in runs
            if execution_phase(r) == Phase.COMPLETED
        ]
        latest = max([s for s in succeeded if s] + [status.get("lastSuccessfulTime") or ""])
        if latest:
            patch["lastSuccessfulTime"] = latest
        patch["nextScheduleTime"] = (
            None if spec.get("suspend") else timestamps.format_time(due.next)
        )
        patch["message"] = None
        self._write(schedule, patch)
        if not spec.get("suspend"):
            key = ("ScheduledExecution", namespace, name)
            self._timers.at("schedule", key, due.next, lambda: self.sync(namespace, name))

    @staticmethod
    def _owns(schedule: dict[str, Any], run: dict[str, Any]) -> bool:
        uid = schedule["metadata"]["uid"]
        return any(o.get("uid") == uid for o in run["metadata"].get("ownerReferences") or [])

    @staticmethod
    def _scheduled_at(run: dict[str, Any]) -> dict[str, str]:
        slot = (run["metadata"].get("annotations") or {}).get(labels.SCHEDULED_AT)
        return {"scheduledAt": slot} if slot else {}

    def _start(
        self, schedule: dict[str, Any], slot: datetime, runs: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Create the run of ``slot`` as the concurrency policy says; None if it exists."""
        meta, spec = schedule["metadata"], schedule["spec"]
        namespace = meta["namespace"]
        run_name = cron.slot_name(meta["name"], slot, seconds=cron.has_seconds(spec["schedule"]))
        if any(r["metadata"]["name"] == run_name for r in runs):
            return None
        active = [r for r in runs if _active(r)]
        policy = spec.get("concurrencyPolicy") or "Allow"
        manifest = manifests.scheduled_run_manifest(schedule, run_name, slot)
        annotations = manifest["metadata"]["annotations"]
        if policy == "Forbid" and active:
            names = ", ".join(r["metadata"]["name"] for r in active)
            reason = f"skipped: {names} still running (concurrencyPolicy Forbid)"
            annotations[labels.SKIP_REASON] = reason
            manifest["spec"]["cancel"] = True  # no worker claims it; cancellation marks it Skipped
        if policy == "Replace":
            for run in active:
                self._kube.merge_patch(
                    kubeapi.EXECUTIONS,
                    namespace,
                    run["metadata"]["name"],
                    {"spec": {"cancel": True}},
                )
                self._writes.post_event(
                    schedule,
                    "Replaced",
                    f"canceled {run['metadata']['name']} for the run of {slot.isoformat()}",
                )
        try:
            created = self._kube.create(kubeapi.EXECUTIONS, namespace, manifest)
        except kubeapi.AlreadyExists:
            return None
        except kubeapi.ApiError as exc:
            self._writes.post_event(
                schedule, "FailedCreate", f"creating {run_name} failed: {exc}", warning=True
            )
            return None
        if annotations.get(labels.SKIP_REASON):
            self._writes.post_event(
                schedule, "Skipped", f"{run_name} {annotations[labels.SKIP_REASON]}"
            )
        else:
            self._writes.post_event(schedule, "Scheduled", f"created {run_name}")
        return created

    def _prune(self, schedule: dict[str, Any], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Delete finished runs beyond ``historyLimit`` (oldest first); return the rest."""
        limit = int(schedule["spec"].get("historyLimit", 5))
        finished = sorted((r for r in runs if execution_phase(r).terminal), key=_created)
        doomed = finished[: max(0, len(finished) - limit)]
        for run in doomed:
            self._kube.delete(
                kubeapi.EXECUTIONS, run["metadata"]["namespace"], run["metadata"]["name"]
            )
        gone = {r["metadata"]["name"] for r in doomed}
        return [r for r in runs if r["metadata"]["name"] not in gone]

    def _write(self, schedule: dict[str, Any], patch: dict[str, Any]) -> None:
        status = schedule.get("status") or {}
        changed = {k: v for k, v in patch.items() if status.get(k) != v}
        if not changed:
            return
        try:
            self._kube.merge_patch(
                kubeapi.SCHEDULED_EXECUTIONS,
                schedule["metadata"]["namespace"],
                schedule["metadata"]["name"],
                {"status": changed},
                subresource="status",
            )
        except kubeapi.NotFound:
            pass
