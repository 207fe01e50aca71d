"""Function objects: what this worker serves, written at start-up.

Every worker of a group applies the same spec (server-side apply, so they agree), and adds
itself with a last-seen time to the object's status.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kontinue
from kontinue.api import group, labels, names, timestamps
from kontinue.client import kubeapi
from kontinue.engine.registry import FunctionDef

log = logging.getLogger(__name__)

VERSION_ENV = "KONTINUE_WORKER_VERSION"
"""A worker's version: reported in the Functions it serves, recorded by its claims (default:
the kontinue SDK's)."""


def function_manifest(
    definition: FunctionDef, worker_group: str, *, cluster_scope: bool = False
) -> dict[str, Any]:
    """The Function object of ``definition`` as served by ``worker_group``."""
    spec: dict[str, Any] = {"name": definition.name, "workerGroup": worker_group}
    optional = {
        "displayName": definition.display_name,
        "description": definition.description,
        "argumentsSchema": definition.arguments_schema(),
        "resultSchema": definition.result_schema(),
        "retry": definition.defaults().get("retry"),
        "timeout": definition.defaults().get("timeout"),
        "concurrencyLimit": definition.concurrency,
    }
    spec.update({k: v for k, v in optional.items() if v is not None})
    object_labels = {labels.WORKER_GROUP: worker_group}
    if cluster_scope:  # served in every namespace by a worker of this (home) namespace
        object_labels[labels.WORKER_SCOPE] = labels.CLUSTER_SCOPE
    if names.is_dns_label(names.sanitize(definition.name)):
        object_labels[labels.FUNCTION] = names.sanitize(definition.name)
    return {
        "apiVersion": group.API_VERSION, "kind": group.FUNCTION.kind,
        "metadata": {"name": names.function_object_name(definition.name, worker_group),
                     "labels": object_labels},
        "spec": spec,
    }  # fmt: skip


def worker_version(configured: str | None = None) -> str:
    """A worker's version: what it reports in the Functions it serves and pins executions to.

    ``--version`` (``--worker-version``) / ``$KONTINUE_WORKER_VERSION`` (say, the image tag of
    the workflows), else the kontinue SDK it runs.
    """
    return configured or os.environ.get(VERSION_ENV) or f"kontinue {kontinue.__version__}"


def register(
    kube: kubeapi.Kube,
    namespace: str,
    definitions: list[FunctionDef],
    *,
    worker_group: str,
    worker: str,
    version: str | None = None,
    upgrade_from: frozenset[str] = frozenset(),
    drain: bool = False,
    cluster_scope: bool = False,
) -> None:
    """Apply the Function objects and record this worker in their status.

    The entry names the worker, its version, the versions whose executions it upgrades and
    whether it drains (takes no new executions).
    """
    now = timestamps.now()
    entry: dict[str, Any] = {"name": worker, "lastSeen": now, "version": worker_version(version)}
    if upgrade_from:
        entry["upgradeFrom"] = sorted(upgrade_from)
    if drain:
        entry["drain"] = True
    for definition in definitions:
        manifest = function_manifest(definition, worker_group, cluster_scope=cluster_scope)
        name = manifest["metadata"]["name"]
        applied = kube.apply(
            kubeapi.FUNCTIONS, namespace, name, manifest, field_manager="kontinue-worker"
        )
        for _ in range(5):
            workers = [
                w
                for w in (applied.get("status") or {}).get("workers") or []
                if w.get("name") != worker
            ]
            workers.append(entry)
            try:
                kube.merge_patch(
                    kubeapi.FUNCTIONS,
                    namespace,
                    name,
                    {"status": {"workers": workers[-50:], "lastSeen": now}},
                    subresource="status",
                    resource_version=applied["metadata"]["resourceVersion"],
                )
                break
            except kubeapi.Conflict:
                applied = kube.get(kubeapi.FUNCTIONS, namespace, name)


def deregister(
    kube: kubeapi.Kube,
    namespace: str,
    definitions: list[FunctionDef],
    *,
    worker_group: str,
    worker: str,
) -> None:
    """Take this worker out of the status of the Functions it served (a graceful shutdown).

    So the versions a Function lists as serving it are those of live workers (a worker that
    died stays listed until its name registers again). Best effort: failures are logged.
    """
    for definition in definitions:
        name = names.function_object_name(definition.name, worker_group)
        for _ in range(5):
            try:
                current = kube.get_or_none(kubeapi.FUNCTIONS, namespace, name)
                listed = ((current or {}).get("status") or {}).get("workers") or []
                if current is None or not any(w.get("name") == worker for w in listed):
                    break
                kube.merge_patch(
                    kubeapi.FUNCTIONS,
                    namespace,
                    name,
                    {"status": {"workers": [w for w in listed if w.get("name") != worker]}},
                    subresource="status",
                    resource_version=current["metadata"]["resourceVersion"],
                )
                break
            except kubeapi.Conflict:
                continue
            except (kubeapi.ApiError, kubeapi.Unreachable) as exc:
                log.warning("could not take worker %s out of function %s: %s", worker, name, exc)
                break
