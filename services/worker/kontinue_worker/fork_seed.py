"""Seeding a fork: the original's history up to the fork's step, copied by its first claim.

A fork (``spec.forkOf``, :mod:`kontinue.api.forks`) starts with a copy of another execution's
history. The worker that claims it while its status records no copy yet (``status.forkedFrom``)
reads the original by name, checks that it is the one the fork names (uid, function, group,
arguments), reads its whole history as a replay would (the status, and the journal chunks it
owns whose digests match, :mod:`kontinue.api.journal_chunks`) and keeps the steps before the
fork's step. The oldest of them go into journal chunks owned by the fork (created now, like a
compaction's); the rest, the chunk count and ``status.forkedFrom`` ride on the fork's first
status write, so a fork costs no write of its own beyond its chunks. Until that write lands,
a later claim seeds again and finds the same chunks (same names, same content).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kontinue import errors
from kontinue.api import adoption, forks, journal_chunks, labels, names
from kontinue.client import kubeapi

T = TypeVar("T")


@dataclass
class Seed:
    """A fork's copied history: in its chunks, and for its first status write."""

    chunk_steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    chunk_state: dict[str, Any] = field(default_factory=dict)
    first_write: dict[str, Any] = field(default_factory=dict)


def needed(execution: Mapping[str, Any]) -> bool:
    """Whether ``execution`` is a fork whose copy was not written yet."""
    spec, status = execution.get("spec") or {}, execution.get("status") or {}
    return bool(spec.get(forks.FORK_FIELD)) and not status.get(forks.RECORD_FIELD)


def seed(
    kube: kubeapi.Kube,
    fork: Mapping[str, Any],
    retrying: Callable[[str, Callable[[], Any]], Any],
    *,
    chunk_steps: int,
    keep_steps: int,
    chunk_bytes: int,
    compact_bytes: int,
) -> Seed:
    """Copy the original's history before the fork's step (see the module).

    ``retrying(what, call)`` runs an API call through transient failures.

    Raises:
        ValidationError: the original is gone, another one, or its history cannot be trusted;
            or a chunk name of the fork is taken by something else.
    """
    namespace = fork["metadata"]["namespace"]
    wanted = (fork.get("spec") or {})[forks.FORK_FIELD]
    original = retrying(
        f"reading execution {wanted['name']}",
        lambda: kube.get_or_none(kubeapi.EXECUTIONS, namespace, wanted["name"]),
    )
    forks.check_original(fork, original)
    chunks: list[dict[str, Any]] = []
    if journal_chunks.chunk_count(original):
        chunks = (
            retrying(
                f"reading the journal of {wanted['name']}",
                lambda: kube.list(
                    kubeapi.CONFIGMAPS,
                    namespace,
                    label_selector=journal_chunks.label_selector(wanted["name"]),
                ),
            ).get("items")
            or []
        )
    steps, state = journal_chunks.full_history(original, journal_chunks.decode(original, chunks))
    copied_steps, copied_state = forks.prefix(steps, state, int(wanted["index"]))
    parts, rest_steps, rest_state = forks.layout(
        copied_steps, copied_state, chunk_steps=chunk_steps, keep_steps=keep_steps,
        chunk_bytes=chunk_bytes, compact_bytes=compact_bytes,
    )  # fmt: skip
    result = Seed()
    digests = []
    for index, (part_steps, part_state) in enumerate(parts):
        digest = journal_chunks.chunk_digest(part_steps, part_state)
        _create_chunk(kube, fork, index, part_steps, part_state, digest, retrying)
        digests.append(digest)
        result.chunk_steps.update(part_steps)
        result.chunk_state.update(part_state)
    first: dict[str, Any] = {forks.RECORD_FIELD: forks.record(fork, len(copied_steps))}
    if rest_steps:
        first["steps"] = rest_steps
    if rest_state:
        first["state"] = rest_state
    if parts:
        first["journal"] = {"chunks": len(parts), "digests": digests}
    result.first_write = first
    return result


def _create_chunk(
    kube: kubeapi.Kube,
    fork: Mapping[str, Any],
    index: int,
    steps: dict[str, Any],
    state: dict[str, Any],
    digest: str,
    retrying: Callable[[str, Callable[[], Any]], Any],
) -> None:
    """Create the fork's chunk ``index``, or accept the same one an earlier seed created."""
    meta = fork["metadata"]
    chunk_name = names.journal_chunk_name(meta["name"], index)
    chunk = {
        "apiVersion": "v1", "kind": "ConfigMap", "immutable": True,
        "metadata": {
            "name": chunk_name,
            "labels": {labels.JOURNAL: names.journal_label(meta["name"])},
            "ownerReferences": [{"apiVersion": "kontinue.cloud/v1alpha1", "kind": "Execution",
                                 "name": meta["name"], "uid": meta["uid"], "controller": True}],
        },
        "data": {"index": str(index), "steps": json.dumps(steps), "state": json.dumps(state)},
    }  # fmt: skip
    try:
        retrying(
            f"creating journal chunk {chunk_name}",
            lambda: kube.create(kubeapi.CONFIGMAPS, meta["namespace"], chunk),
        )
    except kubeapi.AlreadyExists:
        existing = retrying(
            f"reading journal chunk {chunk_name}",
            lambda: kube.get(kubeapi.CONFIGMAPS, meta["namespace"], chunk_name),
        )
        try:
            found = journal_chunks.chunk_digest(*journal_chunks.chunk_content(existing))
        except ValueError:
            found = ""
        if not adoption.owned_by(existing, meta["uid"]) or found != digest:
            raise errors.ValidationError(
                f"a ConfigMap named {chunk_name} exists but is not the journal chunk of fork "
                f"{meta['name']}: the name is taken"
            ) from None
    except kubeapi.ApiError as exc:
        raise errors.InfrastructureError(
            f"creating journal chunk {chunk_name} of fork {meta['name']} failed: {exc}",
            cause=exc,
        ) from exc
