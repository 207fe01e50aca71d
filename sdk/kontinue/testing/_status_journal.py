"""The part of a :class:`~kontinue.engine.journal.Journal` that lives on the Execution object.

Step records (``status.steps``) and stored values (``status.state``) are read and recorded the
same way whoever keeps the object: :class:`~kontinue.testing.MemoryJournal` (one execution, by
hand) and the environment's claim journal (:mod:`kontinue.testing._journal`) both build on
:class:`StatusJournal`, and differ only in where children, suspensions and Jobs live and how a
write lands.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

from kontinue.engine.records import StepRecord


class StatusJournal:
    """Name, cancel flag, step records and stored values of one Execution object."""

    def __init__(self, obj: dict[str, Any], namespace: str, canceled: threading.Event) -> None:
        self._object = obj
        self._namespace = namespace
        self._canceled = canceled

    @property
    def name(self) -> str:
        return str(self._object["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def canceled(self) -> threading.Event:
        return self._canceled

    def execution(self) -> Mapping[str, Any]:
        return self._object

    def _status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._object.setdefault("status", {})
        return status

    def steps(self) -> Mapping[str, StepRecord]:
        raw = self._status().get("steps") or {}
        return {name: StepRecord.from_status(name, rec) for name, rec in raw.items()}

    def stored(self, name: str) -> Any:
        return copy.deepcopy((self._status().get("state") or {}).get(name))

    def record(self, record: StepRecord, *, replace: bool = False) -> None:
        steps = self._status().setdefault("steps", {})
        if replace or record.name not in steps:
            steps[record.name] = record.to_status()


def tail(text: str, lines: int | None) -> str:
    """The last ``lines`` lines of ``text`` (all of them for None or 0), as a pod log's tail."""
    split = text.splitlines(keepends=True)
    return "".join(split[-lines:] if lines else split)
