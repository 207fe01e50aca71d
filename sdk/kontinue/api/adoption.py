"""When an existing object is the one a step asked for: its owner and the digest of its spec.

Child Executions, Jobs and Suspensions have names derived from their parent and step, so a
replay finds what an earlier run created. Anyone who may create objects in the namespace could
create one under that name first; kontinue adopts an object only when

- its controlling owner is the execution (by uid), and
- the digest of its *essence* (what the step asked for: the function and arguments of a child,
  the containers and ServiceAccount of a Job's pods, whether a Suspension is a sleep) equals the
  digest of what the step asks for now (a first run, or a replay that creates again), or the
  digest recorded with the step (a replay that only looks it up).

The digest is computed from the object itself, never read from it: an annotation
(:data:`~kontinue.api.labels.SPEC_DIGEST`) only shows it to people. A squatted name fails the
step clearly; it is never adopted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kontinue.api.digests import json_digest

_CONTAINER_KEYS = ("name", "image", "command", "args", "env", "envFrom", "workingDir")


def _execution_essence(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    parent = spec.get("parent") or {}
    essence = {
        "function": spec.get("function"),
        "arguments": spec.get("arguments"),
        "workerGroup": spec.get("workerGroup") or "default",
        "mutex": (spec.get("mutex") or {}).get("name"),
        "parent": [parent.get("uid"), parent.get("step")],
    }
    if spec.get("parentClosePolicy"):  # only when set: the digests of other children stay
        essence["parentClosePolicy"] = spec["parentClosePolicy"]
    return essence


def _job_essence(obj: Mapping[str, Any]) -> dict[str, Any]:
    pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}

    def containers(key: str) -> list[dict[str, Any]]:
        return [
            {k: c.get(k) for k in _CONTAINER_KEYS if c.get(k) is not None}
            for c in pod.get(key) or []
        ]

    return {
        "containers": containers("containers"),
        "initContainers": containers("initContainers"),
        "serviceAccountName": pod.get("serviceAccountName"),
        "automountServiceAccountToken": pod.get("automountServiceAccountToken"),
    }


def _suspension_essence(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    essence: dict[str, Any] = {
        "execution": spec.get("execution"),
        "step": spec.get("step"),
        "sleep": spec.get("resumeAt") is not None,
    }
    if spec.get("timeout"):  # only when set: the digests of earlier Suspensions stay the same
        essence["timeout"] = True
    return essence


_ESSENCES = {
    "Execution": _execution_essence,
    "Job": _job_essence,
    "Suspension": _suspension_essence,
}


def spec_digest(kind: str, obj: Mapping[str, Any]) -> str:
    """The digest of what a child object (or its manifest) asks for."""
    return json_digest(_ESSENCES[kind](obj))


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    """Whether ``obj``'s controlling owner is the object with ``uid``."""
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(o.get("uid") == uid and o.get("controller") for o in owners)


def mismatch(kind: str, obj: Mapping[str, Any], owner_uid: str, digest: str | None) -> str | None:
    """Why ``obj`` is not the object the step asked for (None when it is).

    ``digest``: what the step asks for now, or recorded (None: only the owner is checked).
    """
    name = (obj.get("metadata") or {}).get("name")
    if not owned_by(obj, owner_uid):
        return f"a {kind} named {name} exists but was not created by this execution"
    if digest is not None and spec_digest(kind, obj) != digest:
        return f"the {kind} {name} is not what its step asked for (its spec differs)"
    return None
