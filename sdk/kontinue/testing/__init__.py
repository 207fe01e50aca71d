"""Running workflows without a cluster: an in-memory journal driving the real replay engine."""

from kontinue.testing._memory_journal import MemoryJournal

__all__ = ["MemoryJournal"]
