"""TTL of finished root executions: archive, then delete.

Counted from the root's ``finishedAt`` (children go with their root):

- ``ttl.archiveAfter``: the whole tree (the root, its descendant Executions, their Suspensions,
  journal chunks and job steps' Jobs, summarized) is compressed into one ArchivedExecution
  named after the root, then the root is deleted and garbage collection removes the rest.
  The archive carries ``spec.deleteAt`` from ``ttl.deleteAfter``, when the controller deletes
  it.
- ``ttl.deleteAfter`` without an archive (or already due when the archive would be made):
  the root is deleted and garbage collection removes its tree.

Nothing is lost on the way: a tree too large for one archive stays in place (a Warning Event
says why) until ``deleteAfter``, and the originals are only deleted once the archive exists.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kontinue.api import archive, deadlines, group, labels, names, timestamps
from kontinue.api.phases import execution_phase
from kontinue.client import kubeapi
from kontinue_controller.keys import Key
from kontinue_controller.timers import Timers
from kontinue_controller.writes import Writes

log = logging.getLogger(__name__)


class Retention:
    """TTL timers of root executions and of archives."""

    def __init__(self, kube: kubeapi.Kube, timers: Timers, writes: Writes) -> None:
        self._kube = kube
        self._timers = timers
        self._writes = writes

    def watch(self, key: Key, obj: dict[str, Any]) -> None:
        """Set the TTL timer of a finished root execution."""
        due = [d for d in deadlines.ttl_deadlines(obj) if d is not None]
        if due:
            self._timers.at("ttl", key, min(due), lambda: self.expire(key[1], key[2]))

    def on_archive(self, event: str | None, obj: dict[str, Any]) -> None:
        """An ArchivedExecution was listed or changed: delete it at its ``deleteAt``."""
        if event == "DELETED":
            return
        meta = obj["metadata"]
        delete_at = timestamps.parse_time((obj.get("spec") or {}).get("deleteAt"))
        if delete_at is not None:
            key = ("ArchivedExecution", meta["namespace"], meta["name"])
            self._timers.at(
                "ttl", key, delete_at, lambda: self._delete_archive(meta["namespace"], meta["name"])
            )

    def _delete_archive(self, namespace: str, name: str) -> None:
        current = self._kube.get_or_none(kubeapi.ARCHIVED_EXECUTIONS, namespace, name)
        if current is None:
            return
        delete_at = timestamps.parse_time((current.get("spec") or {}).get("deleteAt"))
        if delete_at is None or delete_at > datetime.now(UTC):
            return
        self._kube.delete(kubeapi.ARCHIVED_EXECUTIONS, namespace, name)
        log.info("archive %s/%s deleted (ttl.deleteAfter)", namespace, name)

    def expire(self, namespace: str, name: str) -> None:
        """Archive or delete a finished root execution whose TTL passed."""
        current = self._kube.get_or_none(kubeapi.EXECUTIONS, namespace, name)
        if current is None:
            return
        archive_at, delete_at = deadlines.ttl_deadlines(current)
        now = datetime.now(UTC)
        if delete_at is not None and delete_at <= now:
            self._delete_tree(current)
            return
        if archive_at is not None and archive_at <= now:
            self._archive(current, delete_at)
            return
        self.watch(("Execution", namespace, name), current)  # not due yet (or spec changed)

    def _delete_tree(self, root: dict[str, Any]) -> None:
        meta = root["metadata"]
        try:
            self._kube.request(
                "DELETE",
                kubeapi.EXECUTIONS.path(meta["namespace"], meta["name"]),
                body={"propagationPolicy": "Background", "preconditions": {"uid": meta["uid"]}},
            )
        except (kubeapi.NotFound, kubeapi.Conflict):
            return
        log.info("execution %s/%s and its tree deleted (ttl)", meta["namespace"], meta["name"])

    def tree(self, root: dict[str, Any]) -> list[dict[str, Any]]:
        """The root, its descendant Executions, their Suspensions, journal chunks and Jobs."""
        namespace, name = root["metadata"]["namespace"], root["metadata"]["name"]
        kube = self._kube
        selector = f"{labels.ROOT}={name}"
        descendants = kube.list(kubeapi.EXECUTIONS, namespace, label_selector=selector)["items"]
        executions = [root, *descendants]
        suspensions = kube.list(kubeapi.SUSPENSIONS, namespace, label_selector=selector)["items"]
        journaled = [
            names.journal_label(e["metadata"]["name"])
            for e in executions
            if ((e.get("status") or {}).get("journal") or {}).get("chunks")
        ]
        chunks: list[dict[str, Any]] = []
        if journaled:
            chunks = kube.list(
                kubeapi.CONFIGMAPS,
                namespace,
                label_selector=f"{labels.JOURNAL} in ({','.join(sorted(set(journaled)))})",
            )["items"]
            for chunk in chunks:
                chunk.setdefault("apiVersion", "v1")
                chunk.setdefault("kind", "ConfigMap")
        for obj in descendants:
            obj.setdefault("apiVersion", group.API_VERSION)
            obj.setdefault("kind", group.EXECUTION.kind)
        for obj in suspensions:
            obj.setdefault("apiVersion", group.API_VERSION)
            obj.setdefault("kind", group.SUSPENSION.kind)
        jobs = [
            archive.job_summary(job)
            for job in kube.list(kubeapi.JOBS, namespace, label_selector=selector)["items"]
        ]
        return [*executions, *suspensions, *chunks, *jobs]

    def _archive(self, root: dict[str, Any], delete_at: datetime | None) -> None:
        meta, status = root["metadata"], root.get("status") or {}
        objects = self.tree(root)
        try:
            data = archive.encode(objects)
        except archive.ArchiveTooLarge as exc:
            self._writes.post_event(root, "ArchiveFailed", f"{exc}; the tree stays", warning=True)
            return
        kinds = [o.get("kind") for o in objects]
        summary = {
            "name": meta["name"], "uid": meta["uid"], "function": root["spec"]["function"],
            "phase": execution_phase(root).value, "startedAt": status.get("startedAt"),
            "finishedAt": status.get("finishedAt"), "message": status.get("message"),
        }  # fmt: skip
        spec: dict[str, Any] = {
            "execution": {k: v for k, v in summary.items() if v is not None},
            "archivedAt": timestamps.now(),
            "counts": {
                "executions": kinds.count(group.EXECUTION.kind),
                "suspensions": kinds.count(group.SUSPENSION.kind),
                "jobs": kinds.count("Job"),
            },
            "encoding": archive.ENCODING,
            "data": data,
        }
        if delete_at is not None:
            spec["deleteAt"] = timestamps.format_time(delete_at)
        copied = {
            k: v
            for k, v in (meta.get("labels") or {}).items()
            if k in (labels.FUNCTION, labels.WORKER_GROUP, labels.SCHEDULE)
        }
        body = {
            "apiVersion": group.API_VERSION,
            "kind": group.ARCHIVED_EXECUTION.kind,
            "metadata": {"name": meta["name"], "labels": copied},
            "spec": spec,
        }
        try:
            created = self._kube.create(kubeapi.ARCHIVED_EXECUTIONS, meta["namespace"], body)
        except kubeapi.AlreadyExists:
            created = self._kube.get(kubeapi.ARCHIVED_EXECUTIONS, meta["namespace"], meta["name"])
            if (created["spec"].get("execution") or {}).get("uid") != meta["uid"]:
                self._writes.post_event(
                    root,
                    "ArchiveFailed",
                    f"an ArchivedExecution named {meta['name']} already holds another execution",
                    warning=True,
                )
                return
        self._writes.post_event(
            created,
            "Archived",
            f"archived {len(objects)} objects of execution {meta['name']} "
            f"({len(data)} bytes compressed)",
        )
        self._delete_tree(root)
