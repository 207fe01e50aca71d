"""The one decoder of journal chunks, shared by the worker and the history export."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kontinue import errors
from kontinue.api import journal_chunks, names

STEPS = {"store-1": {"type": "store", "index": 0}}
STATE = {"store-1": 7}


def _execution(chunks: int = 1, digests: list[str] | None = None) -> dict[str, Any]:
    journal: dict[str, Any] = {"chunks": chunks}
    if digests is not None:
        journal["digests"] = digests
    return {
        "metadata": {"name": "e", "uid": "u-1"},
        "status": {"journal": journal, "steps": {"store-2": {"type": "store", "index": 1}},
                   "state": {"store-2": 8}},
    }  # fmt: skip


def _chunk(owner: str = "u-1", steps: Any = None, state: Any = None) -> dict[str, Any]:
    return {
        "metadata": {"name": names.journal_chunk_name("e", 0),
                     "ownerReferences": [{"uid": owner, "controller": True}]},
        "data": {"steps": json.dumps(STEPS if steps is None else steps),
                 "state": json.dumps(STATE if state is None else state)},
    }  # fmt: skip


def test_a_chunk_and_the_status_make_the_whole_history() -> None:
    execution = _execution(digests=[journal_chunks.chunk_digest(STEPS, STATE)])
    compacted = journal_chunks.decode(execution, [_chunk()])
    steps, state = journal_chunks.full_history(execution, compacted)
    assert list(steps) == ["store-1", "store-2"]
    assert state == {"store-1": 7, "store-2": 8}


@pytest.mark.parametrize(
    ("chunks", "problem"),
    [
        ([], "is missing"),
        ([_chunk(owner="someone-else")], "does not belong"),
        ([_chunk(state={"store-1": 9})], "was changed"),
    ],
)
def test_a_missing_foreign_or_changed_chunk_is_refused(
    chunks: list[dict[str, Any]], problem: str
) -> None:
    execution = _execution(digests=[journal_chunks.chunk_digest(STEPS, STATE)])
    with pytest.raises(errors.ValidationError, match=problem):
        journal_chunks.decode(execution, chunks)


def test_no_chunks_means_nothing_to_read() -> None:
    assert journal_chunks.decode(_execution(chunks=0), []) == journal_chunks.CompactedHistory()
