"""JSON Pointers (RFC 6901): the paths of JSON Patch operations and of reported places."""

from __future__ import annotations


def json_pointer(*parts: str) -> str:
    """The pointer to ``parts`` (``~`` and ``/`` in a part escaped), e.g. ``/status/steps``."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)
