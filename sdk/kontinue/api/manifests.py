"""Builders of the kontinue objects the SDK, the client and the worker create.

Invariant: every child resource carries an ownerReference to its Execution (so garbage
collection removes it) and the parent, root and worker-group labels (so it can be selected).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kontinue.api import adoption, group, labels, names, parent_close, timestamps


@dataclass(frozen=True)
class Parent:
    """The execution that owns a child resource."""

    name: str
    uid: str
    root: str
    worker_group: str
    step: str


def step_annotations(display_name: str | None, description: str | None) -> dict[str, str]:
    """The display-name and description annotations of an object a step creates."""
    found = {labels.DISPLAY_NAME: display_name, labels.DESCRIPTION: description}
    return {key: value for key, value in found.items() if value}


def _owner(parent: Parent) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": group.API_VERSION,
            "kind": group.EXECUTION.kind,
            "name": parent.name,
            "uid": parent.uid,
            "controller": True,
        }
    ]


def execution_manifest(
    function: str,
    arguments: Any = None,
    *,
    name: str | None = None,
    generate_name: str | None = None,
    worker_group: str = "default",
    retry: Mapping[str, Any] | None = None,
    timeout: Mapping[str, Any] | None = None,
    ttl: Mapping[str, Any] | None = None,
    mutex: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    extra_labels: Mapping[str, str] | None = None,
    extra_annotations: Mapping[str, str] | None = None,
    parent: Parent | None = None,
    parent_close_policy: str | None = None,
) -> dict[str, Any]:
    """An Execution object ready to create (``parent_close_policy``: its spec value)."""
    metadata: dict[str, Any] = {}
    if name:
        metadata["name"] = name
    else:
        # the function's name made a valid name prefix (a generated suffix of 5 follows)
        metadata["generateName"] = (
            generate_name or f"{names.sanitize(function)[:57] or 'execution'}-"
        )
    object_labels = {labels.FUNCTION: function, labels.WORKER_GROUP: worker_group}
    spec: dict[str, Any] = {"function": function, "workerGroup": worker_group}
    if parent is not None:
        object_labels.update(
            {labels.PARENT: parent.name, labels.ROOT: parent.root, labels.STEP: parent.step}
        )
        metadata["ownerReferences"] = _owner(parent)
        spec["parent"] = {"name": parent.name, "uid": parent.uid, "step": parent.step}
        spec["root"] = parent.root
        if parent_close_policy:
            spec[parent_close.SPEC_FIELD] = parent_close_policy
    object_labels.update(extra_labels or {})
    if len(function) > 63:
        object_labels.pop(labels.FUNCTION)
    metadata["labels"] = object_labels
    metadata["annotations"] = {
        **(extra_annotations or {}),
        **step_annotations(display_name, description),
        labels.CREATED: timestamps.format_micro_time(datetime.now(UTC)),
    }
    if arguments is not None:
        spec["arguments"] = arguments
    for key, value in (("retry", retry), ("timeout", timeout), ("ttl", ttl)):
        if value:
            spec[key] = dict(value)
    if mutex:
        spec["mutex"] = {"name": mutex}
    if display_name:
        spec["displayName"] = display_name
    if description:
        spec["description"] = description
    manifest = {
        "apiVersion": group.API_VERSION,
        "kind": group.EXECUTION.kind,
        "metadata": metadata,
        "spec": spec,
    }
    if parent is not None:
        metadata["annotations"][labels.SPEC_DIGEST] = adoption.spec_digest("Execution", manifest)
    return manifest


def suspension_manifest(
    name: str,
    parent: Parent,
    *,
    resume_at: str | None,
    display_name: str | None,
    description: str | None,
    timeout: bool = False,
) -> dict[str, Any]:
    """A Suspension owned by ``parent`` (a sleep when ``resume_at`` is set).

    ``timeout``: ``resume_at`` is a deadline (an approval with a timeout, the timer of an event
    wait or a select), not a sleep: reaching it marks the end ``timedOut``.
    """
    spec: dict[str, Any] = {"execution": parent.name, "step": parent.step}
    if resume_at:
        spec["resumeAt"] = resume_at
    if timeout:
        spec["timeout"] = True
    if display_name:
        spec["displayName"] = display_name
    if description:
        spec["description"] = description
    manifest = {
        "apiVersion": group.API_VERSION,
        "kind": group.SUSPENSION.kind,
        "metadata": {
            "name": name,
            "labels": {
                labels.PARENT: parent.name,
                labels.ROOT: parent.root,
                labels.WORKER_GROUP: parent.worker_group,
                labels.STEP: parent.step,
            },
            "ownerReferences": _owner(parent),
        },
        "spec": spec,
    }
    metadata = manifest["metadata"]
    assert isinstance(metadata, dict)
    metadata["annotations"] = {
        **step_annotations(display_name, description),
        labels.SPEC_DIGEST: adoption.spec_digest("Suspension", manifest),
    }
    return manifest


def root_of(execution: Mapping[str, Any]) -> str:
    """The root execution's name (the execution itself when it has no parent)."""
    spec = execution.get("spec") or {}
    return str(spec.get("root") or execution["metadata"]["name"])


def job_manifest(
    name: str,
    parent: Parent,
    spec: Mapping[str, Any],
    *,
    extra_labels: Mapping[str, str] | None = None,
    extra_annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A batch/v1 Job owned by ``parent``; extra labels and annotations also go on its pods."""
    object_labels = {
        **(extra_labels or {}),
        labels.PARENT: parent.name,
        labels.ROOT: parent.root,
        labels.WORKER_GROUP: parent.worker_group,
        labels.STEP: parent.step,
    }
    job_spec = dict(spec)
    template = dict(job_spec.get("template") or {})
    template_meta = dict(template.get("metadata") or {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), **object_labels}
    if extra_annotations:
        template_meta["annotations"] = {
            **(template_meta.get("annotations") or {}),
            **extra_annotations,
        }
    template["metadata"] = template_meta
    job_spec["template"] = template
    metadata: dict[str, Any] = {
        "name": name,
        "labels": object_labels,
        "ownerReferences": _owner(parent),
        "annotations": dict(extra_annotations or {}),
    }
    manifest = {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": job_spec}
    metadata["annotations"][labels.SPEC_DIGEST] = adoption.spec_digest("Job", manifest)
    return manifest


def scheduled_run_manifest(
    schedule: Mapping[str, Any], name: str, slot: datetime
) -> dict[str, Any]:
    """The Execution a ScheduledExecution creates for ``slot`` (also a manual trigger).

    Its function, arguments and execution defaults, owned by the schedule, labelled with it,
    annotated with the slot.
    """
    meta, spec = schedule["metadata"], schedule["spec"]
    defaults = spec.get("executionDefaults") or {}
    manifest = execution_manifest(
        spec["function"],
        spec.get("arguments"),
        name=name,
        worker_group=spec.get("workerGroup") or "default",
        retry=defaults.get("retry"),
        timeout=defaults.get("timeout"),
        ttl=defaults.get("ttl"),
        mutex=(defaults.get("mutex") or {}).get("name"),
        extra_labels={labels.SCHEDULE: names.label_value(meta["name"])},
    )
    manifest["metadata"]["ownerReferences"] = [
        {
            "apiVersion": group.API_VERSION,
            "kind": group.SCHEDULED_EXECUTION.kind,
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    manifest["metadata"]["annotations"][labels.SCHEDULED_AT] = timestamps.format_time(slot)
    return manifest
