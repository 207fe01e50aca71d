"""Journal chunks: the compacted part of an execution's history, and how it is read back.

A worker moves the oldest step records (and their stored values) of a long execution out of its
status into immutable ConfigMaps owned by the Execution, named by
:func:`kontinue.api.names.journal_chunk_name` and labelled ``kontinue.cloud/journal``;
``status.journal`` counts them (``chunks``) and keeps each one's digest (``digests``). The
whole history of an execution is the chunks' steps and values, then those still in its status.

This module is the one decoder of chunks, shared by the worker (which replays them) and the
history export (which writes them into a history file): it trusts only chunks the execution
owns and, where a digest is recorded, whose content still matches it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kontinue import errors
from kontinue.api import adoption, labels, names
from kontinue.api.digests import json_digest


def chunk_digest(steps: Mapping[str, Any], state: Mapping[str, Any]) -> str:
    """The digest of a chunk's content (recorded in ``status.journal.digests``)."""
    return json_digest({"steps": steps, "state": state})


def chunk_count(execution: Mapping[str, Any]) -> int:
    """How many chunks the execution's status counts."""
    journal = (execution.get("status") or {}).get("journal") or {}
    return int(journal.get("chunks") or 0)


def label_selector(execution: str) -> str:
    """The label selector of the ConfigMaps holding ``execution``'s chunks."""
    return f"{labels.JOURNAL}={names.journal_label(execution)}"


def chunk_content(chunk: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The step records and stored values one chunk ConfigMap holds.

    Raises:
        ValueError: the chunk's data is not JSON.
    """
    data = chunk.get("data") or {}
    steps, state = json.loads(data.get("steps", "{}")), json.loads(data.get("state", "{}"))
    if not isinstance(steps, dict) or not isinstance(state, dict):
        raise ValueError("a chunk's steps and state are JSON objects")
    return steps, state


@dataclass
class CompactedHistory:
    """What an execution's chunks hold: step records (as in ``status.steps``) and values."""

    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


def decode(execution: Mapping[str, Any], chunks: Iterable[Mapping[str, Any]]) -> CompactedHistory:
    """The compacted history of ``execution`` from its chunk ConfigMaps (any order, any extra).

    Each of the ``status.journal.chunks`` chunks must be present, owned by the execution and,
    when the status records its digest (every chunk written since digests exist), match it: a
    chunk someone replaced or changed is refused instead of being replayed.

    Raises:
        ValidationError: a chunk is missing, foreign or changed.
    """
    meta = execution.get("metadata") or {}
    execution_name, uid = str(meta.get("name")), str(meta.get("uid"))
    journal = (execution.get("status") or {}).get("journal") or {}
    digests = list(journal.get("digests") or [])
    by_name = {(c.get("metadata") or {}).get("name"): c for c in chunks}
    history = CompactedHistory()
    for index in range(chunk_count(execution)):
        name = names.journal_chunk_name(execution_name, index)
        chunk = by_name.get(name)
        if chunk is None:
            raise errors.ValidationError(f"journal chunk {name} of {execution_name} is missing")
        if not adoption.owned_by(chunk, uid):
            raise errors.ValidationError(
                f"journal chunk {name} does not belong to {execution_name}: its history cannot "
                "be trusted"
            )
        try:
            steps, state = chunk_content(chunk)
        except ValueError:
            steps, state = {}, {"": None}  # never matches a digest
            if index >= len(digests):
                raise errors.ValidationError(
                    f"journal chunk {name} of {execution_name} is not readable JSON"
                ) from None
        if index < len(digests) and digests[index] != chunk_digest(steps, state):
            raise errors.ValidationError(
                f"journal chunk {name} of {execution_name} was changed after it was written: "
                "its history cannot be trusted"
            )
        history.steps.update(steps)
        history.state.update(state)
    return history


def full_history(
    execution: Mapping[str, Any], compacted: CompactedHistory
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Every step record and stored value: the chunks', then those still in the status."""
    status = execution.get("status") or {}
    steps = {**compacted.steps, **(status.get("steps") or {})}
    state = {**compacted.state, **(status.get("state") or {})}
    return steps, state
