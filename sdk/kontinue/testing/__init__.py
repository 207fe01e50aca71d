"""Running workflows without a cluster.

An in-memory journal driving the real replay engine (:class:`MemoryJournal`), and replays of
exported histories against today's code (:func:`replay`, :func:`replay_folder`).
"""

from kontinue.testing._memory_journal import MemoryJournal
from kontinue.testing.replay import (
    HistoryError,
    HistoryJournal,
    ReplayResult,
    histories,
    replay,
    replay_folder,
)

__all__ = [
    "HistoryError",
    "HistoryJournal",
    "MemoryJournal",
    "ReplayResult",
    "histories",
    "replay",
    "replay_folder",
]
