"""The history file: an execution's complete recorded history, for replaying code against it.

``kontinue export NAME`` writes one JSON document; ``kontinue replay`` and
:func:`kontinue.testing.replay` read it back. Version 1::

    {
      "kind": "KontinueHistory",
      "version": 1,
      "exportedAt": "2026-01-01T00:00:00Z",
      "execution": {...},              # the Execution (metadata, spec, status)
      "journal": {"steps": {...},      # the compacted steps of its journal chunks
                  "state": {...}},     #   and their stored values
      "children": [{...}],             # child Executions: metadata, spec.function, phase,
                                       #   result, error, message
      "suspensions": [{...}],          # its Suspensions (sleeps, suspends, poll timers)
      "jobs": [{"job": {...},          # its Jobs (metadata and status),
                "pods": [{...}],       #   their pods (oldest first),
                "logs": {"pod": {"container": "text"}}}],  # and what they printed
      "signals": [{...}]               # events sent to it (optional; kontinue signal)
    }

Everything the replay engine reads during a replay comes from here: the step records and
stored values (the status's and the chunks'), children, suspensions, Jobs, their pods and logs.
An event or select step (``wait_for_event``, ``wait_first``) replays from its stored value (the
Signal it consumed and its payload, or the winner); the signals are kept to be looked at.
:func:`parse` validates a document and refuses a bad one with a :class:`HistoryError` saying
where and what.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kontinue import errors
from kontinue.api import slim
from kontinue.api.journal_chunks import CompactedHistory, full_history
from kontinue.api.phases import Phase, SuspensionPhase
from kontinue.api.timestamps import format_time, parse_time

KIND = "KontinueHistory"
VERSION = 1

MAX_LOG_BYTES = 1024 * 1024
"""Most bytes of one container's log a history keeps (its end)."""


class HistoryError(errors.ValidationError):
    """A history file that cannot be read: not JSON, another kind or version, a bad field."""


@dataclass(frozen=True)
class History:
    """A parsed, validated history."""

    execution: dict[str, Any]
    steps: dict[str, dict[str, Any]]
    """Every step record (the chunks' and the status's), as in ``status.steps``."""
    state: dict[str, Any]
    """Every stored value, by step name."""
    exported_at: datetime
    children: dict[str, dict[str, Any]] = field(default_factory=dict)
    suspensions: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """A Job's pods by Job name, oldest first."""
    logs: dict[str, dict[str, str]] = field(default_factory=dict)
    """What each pod's containers printed, by pod and container name."""
    signals: list[dict[str, Any]] = field(default_factory=list)
    """The Signals (events) sent to the execution."""
    document: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The execution's name."""
        return str(self.execution["metadata"]["name"])

    @property
    def namespace(self) -> str:
        """The execution's namespace."""
        return str(self.execution["metadata"].get("namespace") or "default")

    @property
    def function(self) -> str:
        """The function the execution ran."""
        return str(self.execution["spec"]["function"])


def _without_managed_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def child_record(child: Mapping[str, Any]) -> dict[str, Any]:
    """What a history keeps of a child Execution: no arguments, state or steps of its own."""
    kept = slim.slim(child)
    status = child.get("status") or {}
    if "result" in status:
        kept.setdefault("status", {})["result"] = status["result"]
    return kept


def job_record(job: Mapping[str, Any]) -> dict[str, Any]:
    """What a history keeps of a Job: its metadata and status (not its pod template)."""
    kept = _without_managed_fields(job)
    return {k: v for k, v in kept.items() if k in ("apiVersion", "kind", "metadata", "status")}


def pod_record(pod: Mapping[str, Any]) -> dict[str, Any]:
    """What a history keeps of a Job's pod: metadata, node, containers' images, status."""
    kept = _without_managed_fields(pod)
    spec = pod.get("spec") or {}
    kept["spec"] = {
        "nodeName": spec.get("nodeName"),
        "containers": [
            {"name": c.get("name"), "image": c.get("image")} for c in spec.get("containers") or []
        ],
    }
    return kept


def build(
    execution: Mapping[str, Any],
    compacted: CompactedHistory,
    *,
    children: Sequence[Mapping[str, Any]] = (),
    suspensions: Sequence[Mapping[str, Any]] = (),
    jobs: Sequence[Mapping[str, Any]] = (),
    pods: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    logs: Mapping[str, Mapping[str, str]] | None = None,
    signals: Sequence[Mapping[str, Any]] = (),
    exported_at: datetime,
) -> dict[str, Any]:
    """The history document of an execution from the objects read on the cluster."""
    pods = pods or {}
    logs = logs or {}
    job_entries = []
    for job in jobs:
        name = job["metadata"]["name"]
        job_pods = [pod_record(p) for p in pods.get(name, ())]
        job_entries.append({
            "job": job_record(job),
            "pods": job_pods,
            "logs": {
                p["metadata"]["name"]: {c: text[-MAX_LOG_BYTES:] for c, text in
                                        logs.get(p["metadata"]["name"], {}).items()}
                for p in job_pods if p["metadata"]["name"] in logs
            },
        })  # fmt: skip
    return {
        "kind": KIND,
        "version": VERSION,
        "exportedAt": format_time(exported_at),
        "execution": _without_managed_fields(execution),
        "journal": {"steps": compacted.steps, "state": compacted.state},
        "children": [child_record(c) for c in children],
        "suspensions": [_without_managed_fields(s) for s in suspensions],
        "jobs": job_entries,
        "signals": [_without_managed_fields(s) for s in signals],
    }


def dumps(document: Mapping[str, Any]) -> str:
    """A history document as the JSON text of a history file."""
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def _fail(source: str, where: str, problem: str) -> HistoryError:
    return HistoryError(f"{source} is not a usable kontinue history: {where}: {problem}")


def _object(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(source, where, f"expected a JSON object, found {type(value).__name__}")
    return value


def _list(value: Any, source: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(source, where, f"expected a JSON list, found {type(value).__name__}")
    return value


def _named(value: Any, source: str, where: str) -> tuple[str, dict[str, Any]]:
    obj = _object(value, source, where)
    name = _object(obj.get("metadata"), source, f"{where}.metadata").get("name")
    if not isinstance(name, str) or not name:
        raise _fail(source, f"{where}.metadata.name", "missing")
    return name, obj


def _phased(
    doc: dict[str, Any], key: str, phases: set[str], source: str
) -> dict[str, dict[str, Any]]:
    """The named objects listed under ``key``, each with no phase or one of ``phases``."""
    found: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(_list(doc.get(key), source, key)):
        name, obj = _named(raw, source, f"{key}[{i}]")
        phase = (obj.get("status") or {}).get("phase")
        if phase is not None and phase not in phases:
            raise _fail(source, f"{key}[{i}].status.phase", f"unknown phase {phase!r}")
        found[name] = obj
    return found


def _steps(value: Any, source: str, where: str) -> dict[str, dict[str, Any]]:
    steps = _object(value if value is not None else {}, source, where)
    for name, record in steps.items():
        record = _object(record, source, f"{where}.{name}")
        if not isinstance(record.get("type"), str):
            raise _fail(source, f"{where}.{name}.type", "a step record needs its type")
        if not isinstance(record.get("index"), int) or isinstance(record.get("index"), bool):
            raise _fail(source, f"{where}.{name}.index", "a step record needs its position")
    return steps


def parse(document: Any, source: str = "the history") -> History:
    """Validate a history document and read it.

    Raises:
        HistoryError: naming ``source``, the field and what is wrong with it.
    """
    doc = _object(document, source, "the document")
    if doc.get("kind") != KIND:
        raise _fail(source, "kind", f"expected {KIND!r}, found {doc.get('kind')!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _fail(source, "version", f"expected a number, found {version!r}")
    if version > VERSION:
        raise _fail(
            source, "version", f"version {version} was written by a newer kontinue (this one "
            f"reads version {VERSION})",
        )  # fmt: skip
    if version < 1:
        raise _fail(source, "version", f"unknown version {version}")
    exported_at = parse_time(doc.get("exportedAt"))
    if exported_at is None:
        raise _fail(source, "exportedAt", "expected a timestamp")
    _, execution = _named(doc.get("execution"), source, "execution")
    spec = _object(execution.get("spec"), source, "execution.spec")
    if not isinstance(spec.get("function"), str):
        raise _fail(source, "execution.spec.function", "missing")
    status = _object(execution.get("status") or {}, source, "execution.status")
    _steps(status.get("steps"), source, "execution.status.steps")
    _object(status.get("state") or {}, source, "execution.status.state")
    journal = _object(doc.get("journal") or {}, source, "journal")
    compacted = CompactedHistory(
        steps=_steps(journal.get("steps"), source, "journal.steps"),
        state=_object(journal.get("state") or {}, source, "journal.state"),
    )
    steps, state = full_history(execution, compacted)
    positions: dict[int, str] = {}
    for name in sorted(steps):
        index = steps[name]["index"]
        if index in positions:
            raise _fail(
                source, f"steps {positions[index]!r} and {name!r}", f"both at position #{index}"
            )
        positions[index] = name
    children = _phased(doc, "children", set(Phase), source)
    suspensions = _phased(doc, "suspensions", set(SuspensionPhase), source)
    jobs: dict[str, dict[str, Any]] = {}
    pods: dict[str, list[dict[str, Any]]] = {}
    logs: dict[str, dict[str, str]] = {}
    for i, raw in enumerate(_list(doc.get("jobs"), source, "jobs")):
        entry = _object(raw, source, f"jobs[{i}]")
        name, job = _named(entry.get("job"), source, f"jobs[{i}].job")
        jobs[name] = job
        pods[name] = [
            _named(p, source, f"jobs[{i}].pods[{k}]")[1]
            for k, p in enumerate(_list(entry.get("pods"), source, f"jobs[{i}].pods"))
        ]
        for pod, texts in _object(entry.get("logs") or {}, source, f"jobs[{i}].logs").items():
            texts = _object(texts, source, f"jobs[{i}].logs.{pod}")
            if not all(isinstance(t, str) for t in texts.values()):
                raise _fail(source, f"jobs[{i}].logs.{pod}", "a log is text")
            logs[pod] = dict(texts)
    sent = [
        _named(raw, source, f"signals[{i}]")[1]
        for i, raw in enumerate(_list(doc.get("signals") or [], source, "signals"))
    ]
    return History(
        execution=execution, steps=steps, state=state, exported_at=exported_at,
        children=children, suspensions=suspensions, jobs=jobs, pods=pods, logs=logs,
        signals=sent, document=doc,
    )  # fmt: skip


def loads(text: str | bytes, source: str = "the history") -> History:
    """Parse the JSON text of a history file.

    Raises:
        HistoryError: not JSON, or not a valid history.
    """
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise HistoryError(f"{source} is not a usable kontinue history: not JSON ({exc})") from None
    return parse(document, source)


def load(path: str | Path) -> History:
    """Read and parse a history file.

    Raises:
        HistoryError: the file cannot be read, is not JSON, or is not a valid history.
    """
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise HistoryError(f"cannot read the history {path}: {exc.strerror or exc}") from None
    return loads(text, str(path))
