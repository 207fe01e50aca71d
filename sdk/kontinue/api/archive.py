"""The ArchivedExecution format: a finished tree as one compressed JSON list.

The tree (executions, suspensions, journal chunks, job summaries: :func:`job_summary`) is
gzip-compressed and base64-encoded into ``spec.data``.

The controller writes archives; the client, CLI and UI read them back with :func:`decode`.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Mapping
from typing import Any

ENCODING = "gzip+base64"
MAX_DATA = 1_400_000
"""Longest ``spec.data`` the CRD accepts (the object must stay under etcd's size limit)."""


class ArchiveTooLarge(ValueError):
    """The compressed tree does not fit into one ArchivedExecution."""


def slim(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without the server's bookkeeping (managed fields) that nobody reads back."""
    copy = dict(obj)
    metadata = dict(copy.get("metadata") or {})
    metadata.pop("managedFields", None)
    copy["metadata"] = metadata
    return copy


def job_summary(job: Mapping[str, Any]) -> dict[str, Any]:
    """What an archive keeps of a job step's Job: identity, what it ran, how it ended.

    The pod template's containers (name, image, command, args) and the Job's counts, times and
    conditions; not its environment or volumes (the step's input, possibly references to
    secrets). The step's recorded outcome (each pod's exit codes) is in its execution's state.
    """
    meta = job.get("metadata") or {}
    spec = job.get("spec") or {}
    template = ((spec.get("template") or {}).get("spec")) or {}
    kept_meta = ("name", "namespace", "uid", "labels", "annotations", "creationTimestamp",
                 "ownerReferences")  # fmt: skip
    kept_spec = ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "suspend")
    containers = [
        {k: c[k] for k in ("name", "image", "command", "args") if k in c}
        for c in template.get("containers") or []
    ]
    return {
        "apiVersion": job.get("apiVersion") or "batch/v1",
        "kind": job.get("kind") or "Job",
        "metadata": {k: meta[k] for k in kept_meta if k in meta},
        "spec": {
            **{k: spec[k] for k in kept_spec if k in spec},
            "template": {"spec": {"containers": containers}},
        },
        "status": dict(job.get("status") or {}),
    }


def encode(objects: Iterable[Mapping[str, Any]]) -> str:
    """The ``spec.data`` of an archive holding ``objects``.

    Raises:
        ArchiveTooLarge: the encoded data exceeds :data:`MAX_DATA`.
    """
    raw = json.dumps([slim(o) for o in objects], separators=(",", ":")).encode()
    data = base64.b64encode(gzip.compress(raw, compresslevel=9)).decode()
    if len(data) > MAX_DATA:
        raise ArchiveTooLarge(
            f"the archived tree is {len(data)} bytes compressed; at most {MAX_DATA} fit"
        )
    return data


def decode(archive: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The objects of an ArchivedExecution (its ``spec.data``), in archive order."""
    spec = archive.get("spec") or {}
    if spec.get("encoding") != ENCODING:
        raise ValueError(f"unknown archive encoding {spec.get('encoding')!r}")
    objects: list[dict[str, Any]] = json.loads(gzip.decompress(base64.b64decode(spec["data"])))
    return objects
