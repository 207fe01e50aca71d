"""Forks: a new execution that starts with a prefix of another one's history.

``kontinue fork NAME --from-step STEP`` creates an Execution of the same function, arguments and
worker group with ``spec.forkOf`` (the original's name and uid, the first step to run and its
position). Its first claim copies the original's history before that step (the step records
and stored values, from the status and the journal chunks alike) into the fork: those steps
replay with their recorded results, the step and everything after it run. The original is
never written to.

Trust: anyone who may create Executions may write ``spec.forkOf``, so the worker that seeds
a fork copies only from the execution with exactly that name and uid in the fork's namespace,
only what that execution's status and its own (owned, digest-checked) chunks hold, and only
when the fork runs the same function and worker group with the same arguments. A forged
request can therefore only start what a real fork of that execution would start. The seed is
written by the fork's first write (recorded in ``status.forkedFrom``) and is never written
again; ``spec.forkOf`` is immutable, so nobody can point an execution that started already at
another history.

Children, sleeps and suspensions of the copied steps are the original's objects: the fork
reuses their recorded outcome (a completed child's result is not computed again) and reads
them where they are, as objects of the original (:func:`borrowed`). Job steps' outcomes are
stored values and are copied like any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kontinue import errors
from kontinue.api import manifests, worker_versions
from kontinue.api.digests import json_digest

FORK_FIELD = "forkOf"
"""The ``spec`` key naming the history a fork copies."""

RECORD_FIELD = "forkedFrom"
"""The ``status`` key a fork's first write records the copy in."""


def ordered(steps: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Step names in execution order (their recorded position)."""
    return sorted(steps, key=lambda name: int(steps[name].get("index", 0)))


def resolve_step(
    steps: Mapping[str, Mapping[str, Any]], step: str, execution: str
) -> tuple[str, int]:
    """The (name, position) of the first step a fork runs.

    ``step`` is a recorded step's name, or its 1-based number in execution order (as
    ``kontinue get`` and the UI number them); the number after the last recorded step means
    the step that did not commit (the one that failed, or was interrupted).

    Raises:
        ValidationError: no such step (the message lists the steps).
    """
    names = ordered(steps)
    if step in steps:
        return step, int(steps[step]["index"])
    if step.isdigit() and 1 <= int(step) <= len(names) + 1:
        number = int(step)
        if number <= len(names):
            name = names[number - 1]
            return name, int(steps[name]["index"])
        following = max((int(steps[n]["index"]) for n in names), default=-1) + 1
        return f"#{number}", following
    listed = ", ".join(f"{i}. {n}" for i, n in enumerate(names, 1)) or "none recorded"
    raise errors.ValidationError(
        f"execution {execution} has no step {step!r}; its steps are: {listed} (a step name, "
        f"or a number from 1 to {len(names) + 1}, where {len(names) + 1} is the step after "
        "the last recorded one)"
    )


def prefix(
    steps: Mapping[str, Mapping[str, Any]], state: Mapping[str, Any], index: int
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The step records and stored values of the steps before position ``index``.

    A copied record forgets the attempt that recorded it (the fork's attempts are its own).
    """
    kept = {
        name: {k: v for k, v in record.items() if k != "attempt"}
        for name, record in steps.items()
        if int(record.get("index", 0)) < index
    }
    return kept, {name: value for name, value in state.items() if name in kept}


def request(original: Mapping[str, Any], step: str, index: int) -> dict[str, Any]:
    """The ``spec.forkOf`` of a fork of ``original`` from ``step`` (at ``index``)."""
    meta = original["metadata"]
    return {"name": meta["name"], "uid": meta["uid"], "step": step, "index": index}


def fork_manifest(
    original: Mapping[str, Any],
    step: str,
    index: int,
    new_name: str | None,
    version: str | None = None,
) -> dict[str, Any]:
    """The Execution of a fork of ``original`` from ``step``, named ``new_name`` or generated.

    The same function, arguments, worker group, policies, TTL, mutex, display name and
    user labels; a root of its own (never a child), not canceled, not retried. A fork is new
    work, so any worker that takes new work runs it; with ``version`` only workers of that
    version do (the fixed code), as for a child pinned by its parent.
    """
    spec = original.get("spec") or {}
    meta = original.get("metadata") or {}
    own = {
        k: v for k, v in (meta.get("labels") or {}).items() if not k.startswith("kontinue.cloud/")
    }
    manifest = manifests.execution_manifest(
        spec["function"],
        spec.get("arguments"),
        name=new_name,
        generate_name=None if new_name else f"{str(meta['name'])[:50]}-fork-",
        worker_group=spec.get("workerGroup") or "default",
        retry=spec.get("retry"),
        timeout=spec.get("timeout"),
        ttl=spec.get("ttl"),
        mutex=(spec.get("mutex") or {}).get("name"),
        display_name=spec.get("displayName"),
        description=spec.get("description"),
        extra_labels=own,
        extra_annotations={worker_versions.PIN_ANNOTATION: version} if version else None,
    )
    manifest["spec"][FORK_FIELD] = request(original, step, index)
    return manifest


def check_original(fork: Mapping[str, Any], original: Mapping[str, Any] | None) -> None:
    """Refuse to seed ``fork`` from ``original`` unless it is the execution the fork names.

    Raises:
        ValidationError: the original is gone or replaced (another uid), or the fork runs
            another function, worker group or arguments than it.
    """
    wanted = (fork.get("spec") or {}).get(FORK_FIELD) or {}
    name = (fork.get("metadata") or {}).get("name")
    if original is None:
        raise errors.ValidationError(
            f"fork {name} copies the history of execution {wanted.get('name')}, which no "
            "longer exists"
        )
    if (original.get("metadata") or {}).get("uid") != wanted.get("uid"):
        raise errors.ValidationError(
            f"fork {name} copies the history of execution {wanted.get('name')} with uid "
            f"{wanted.get('uid')}, but the execution of that name now is another one: its "
            "history is not copied"
        )
    mine, theirs = fork.get("spec") or {}, original.get("spec") or {}
    for key, default in (("function", None), ("workerGroup", "default")):
        if (mine.get(key) or default) != (theirs.get(key) or default):
            raise errors.ValidationError(
                f"fork {name} runs {key} {mine.get(key) or default!r} but execution "
                f"{wanted.get('name')} ran {theirs.get(key) or default!r}: a fork runs the same"
            )
    if json_digest(mine.get("arguments")) != json_digest(theirs.get("arguments")):
        raise errors.ValidationError(
            f"fork {name} has other arguments than execution {wanted.get('name')}: a fork "
            "replays the original's steps, which were taken with its arguments"
        )


def record(fork: Mapping[str, Any], copied: int) -> dict[str, Any]:
    """The ``status.forkedFrom`` of a seeded fork that copied ``copied`` steps."""
    wanted = dict((fork.get("spec") or {}).get(FORK_FIELD) or {})
    return {**wanted, "steps": copied}


def borrowed(status: Mapping[str, Any] | None, steps: Mapping[str, Any]) -> dict[str, str]:
    """The objects a fork reads as its original's: child name -> the original's uid.

    The objects (children, sleeps, suspensions, Jobs) of the steps it copied.
    """
    seeded = (status or {}).get(RECORD_FIELD) or {}
    uid, index = seeded.get("uid"), seeded.get("index")
    if not uid or index is None:
        return {}
    found: dict[str, str] = {}
    for raw in steps.values():
        record = raw.to_status() if hasattr(raw, "to_status") else raw
        if record.get("child") and int(record.get("index", 0)) < int(index):
            found[str(record["child"])] = str(uid)
    return found


def layout(
    steps: Mapping[str, dict[str, Any]],
    state: Mapping[str, Any],
    *,
    chunk_steps: int,
    keep_steps: int,
    chunk_bytes: int,
    compact_bytes: int,
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], dict[str, Any], dict[str, Any]]:
    """Split a copied history into journal chunks and what stays in the status.

    The oldest steps go into chunks of at most ``chunk_steps`` steps (and ``chunk_bytes`` of
    values) until the rest is no more than a compaction would leave: fewer than
    ``chunk_steps + keep_steps`` steps and ``compact_bytes`` of values.

    Returns:
        ``([(chunk steps, chunk state), ...], status steps, status state)``.
    """
    names = ordered(steps)
    chunks: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def size(keys: list[str]) -> int:
        return sum(len(json.dumps(state[k], separators=(",", ":"))) for k in keys if k in state)

    while len(names) >= chunk_steps + keep_steps or size(names) >= compact_bytes:
        taken: list[str] = []
        used = 0
        for name in names[:chunk_steps]:
            value = size([name])
            if taken and used + value > chunk_bytes:
                break
            taken.append(name)
            used += value
        chunks.append(({n: steps[n] for n in taken}, {n: state[n] for n in taken if n in state}))
        names = names[len(taken) :]
    return chunks, {n: steps[n] for n in names}, {n: state[n] for n in names if n in state}
