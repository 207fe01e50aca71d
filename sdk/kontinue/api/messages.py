"""Status messages fit their fields: long texts are cut, never refused.

The CRDs take at most 32,768 characters in a message (``status.message``, an error's and an
attempt's message). An exception whose text is longer (a stack of output, a huge repr) would
have the whole status write refused, and the real error would be lost with it; so messages are
cut to :data:`MAX_MESSAGE` characters, keeping the start and the end, which say the most.
"""

from __future__ import annotations

MAX_MESSAGE = 8192
"""Longest message kontinue writes (the CRDs allow 32,768; several sit in one status)."""


def truncate_message(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to at most ``limit`` characters, with what was left out said in the middle."""
    if len(text) <= limit:
        return text
    head = limit * 3 // 4
    note = f" [... {len(text) - limit + 64} characters cut ...] "
    tail = limit - head - len(note)
    cut = text[:head] + note + (text[-tail:] if tail > 0 else "")
    return cut[:limit]
