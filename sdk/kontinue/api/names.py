"""Kubernetes-safe names: validation of step names and deterministic child resource names.

Invariant: a child's name depends only on its parent's name and the step name, and is at most
63 characters (it also appears as a label value), so a replay that creates "the same" child
finds the one it created before. Different (parent, step) pairs never give the same name: the
two are joined with ``--``, which a step name may not contain, so the last ``--`` of a child's
name always separates them (``a`` + ``b-c`` is ``a--b-c``, ``a-b`` + ``c`` is ``a-b--c``).
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(name: str) -> bool:
    """True for a valid RFC 1123 label (lowercase alphanumerics and '-', at most 63)."""
    return len(name) <= MAX_NAME and bool(_DNS_LABEL.match(name))


SEPARATOR = "--"
"""Joins a parent's name and a step's in a child's name; no step name contains it."""


def is_step_name(name: str) -> bool:
    """True for a valid step name: a DNS label without ``--``."""
    return is_dns_label(name) and SEPARATOR not in name


def sanitize(text: str) -> str:
    """Lowercase ``text`` and replace runs of anything but alphanumerics by one '-'."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned


def _shorten(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    head = name[: limit - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


def child_name(parent: str, step: str) -> str:
    """The deterministic name of the resource a parent's step creates (``<parent>--<step>``)."""
    return _shorten(f"{parent}{SEPARATOR}{step}", MAX_NAME)


def suffixed(base: str, suffix: str) -> str:
    """``<base>-<suffix>`` within 63 characters (a digest of the whole shortens a long base)."""
    return _shorten(f"{base}-{suffix}", MAX_NAME)


def label_value(text: str) -> str:
    """``text`` as a label value: itself when it fits, else shortened with a digest.

    A text over 63 characters keeps its start and gains a digest of the whole, so two long
    texts with a common prefix stay apart.
    """
    return _shorten(text, MAX_NAME).rstrip("-.")


def function_object_name(function: str, worker_group: str) -> str:
    """Name of the Function object for ``function`` registered by ``worker_group``."""
    base = sanitize(function) or "function"
    if base != function:
        base = f"{base}-{hashlib.sha256(function.encode()).hexdigest()[:6]}"
    if worker_group != "default":
        base = f"{base}.{worker_group}"
    return _shorten(base, 253)


def journal_label(execution: str) -> str:
    """Value of the journal label on the ConfigMaps holding ``execution``'s compacted steps."""
    return execution if is_dns_label(execution) else suffixed("journal", execution)


def journal_chunk_name(execution: str, index: int) -> str:
    """Name of the ConfigMap holding chunk ``index`` of ``execution``'s compacted journal."""
    return suffixed(execution, f"journal-{index}")
