"""Signals: named events sent to a running execution, one Signal object per event.

Storage. Each accepted event is its own ``Signal`` object (group ``kontinue.cloud``), created by
the sender (``kontinue signal``, :meth:`kontinue.client.Client.signal`, the UI, ``kubectl``):

- owned by its Execution (a controlling ownerReference with the execution's uid), so garbage
  collection removes it with the execution, and labelled with the execution's name
  (:data:`~kontinue.api.labels.PARENT`), its worker group and the event's name, so the worker
  and the controller follow the signals of the executions they serve with one watch;
- named after the execution and the sender's id (:func:`signal_name`): a re-sent signal (an
  answer lost on the way back) meets its first copy (AlreadyExists) and is delivered once;
- immutable (a CEL rule on ``spec``): the event, the payload and the id never change.

Order. Signals of one execution are delivered in the order the API server accepted them: the
order of their ``metadata.resourceVersion`` at creation (the etcd revision that wrote them,
which grows with every write), ties impossible. Concurrent senders need no coordination: each
create is one write and the server orders them. Nothing writes a Signal after its creation
(its spec is immutable and nothing kontinue runs updates it), so its version stays the one it
was accepted at.

Trust. A namespace user who may create Signals may signal any execution there, but a Signal
is delivered to an execution only if it is that execution's (:func:`belongs_to`): its
controlling owner is the execution's uid, its label and ``spec.execution`` name it. A Signal
planted for another execution, or left over from a deleted execution of the same name, is
ignored.

Consumption is not written to the Signal (that would cost a write per event): the waiting
step records in the execution's journal which Signal it consumed (its name, in the step
record's ``child``) and the payload (its stored value), in one fenced write. A replay returns
the recorded payload; a Signal named by any recorded step is never consumed again; a crash
before that write leaves the Signal unconsumed, so the next run takes the same one (the
earliest unconsumed is stable: later signals come after it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kontinue.api import adoption, group, labels, names
from kontinue.api.digests import json_digest
from kontinue.api.versions import resource_version

_EVENT_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")

MAX_DATA_BYTES = 256 * 1024
"""The largest payload a signal carries (JSON bytes)."""


def is_event_name(name: str) -> bool:
    """An event name: letters, digits, ``-``, ``_`` and ``.``, at most 63 (a label value)."""
    return bool(_EVENT_NAME.match(name))


def check_event_name(name: str) -> str:
    """``name`` if it is a valid event name.

    Raises:
        ValueError: it is not (saying what is allowed).
    """
    if not isinstance(name, str) or not is_event_name(name):
        raise ValueError(
            f"event name {name!r} is not valid: letters, digits, '-', '_' and '.', starting "
            "and ending with a letter or digit, at most 63 characters"
        )
    return name


def signal_name(execution: str, signal_id: str) -> str:
    """The Signal's object name: the execution's name and a digest of the sender's id."""
    return names.suffixed(execution, "sig-" + json_digest(signal_id).removeprefix("sha256:")[:16])


@dataclass(frozen=True)
class SignalState:
    """A Signal as a waiting step sees it."""

    name: str
    """The Signal object's name (what the journal records as consumed)."""
    event: str
    data: Any
    id: str
    order: int
    """Its acceptance order (the resourceVersion it was created at)."""


def signal_manifest(
    execution: Mapping[str, Any], event: str, data: Any, signal_id: str
) -> dict[str, Any]:
    """A Signal carrying ``event`` with ``data`` to ``execution`` (an Execution object)."""
    meta = execution["metadata"]
    spec = execution.get("spec") or {}
    body: dict[str, Any] = {"execution": meta["name"], "event": event, "id": signal_id}
    if data is not None:
        body["data"] = data
    return {
        "apiVersion": group.API_VERSION,
        "kind": group.SIGNAL.kind,
        "metadata": {
            "name": signal_name(meta["name"], signal_id),
            "labels": {
                labels.PARENT: meta["name"],
                labels.ROOT: str(spec.get("root") or meta["name"]),
                labels.WORKER_GROUP: str(spec.get("workerGroup") or "default"),
                labels.EVENT: event,
            },
            "ownerReferences": [
                {
                    "apiVersion": group.API_VERSION,
                    "kind": group.EXECUTION.kind,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": body,
    }


def same_signal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two Signals carry the same event, payload and id to the same execution."""

    def essence(obj: Mapping[str, Any]) -> list[Any]:
        spec = obj.get("spec") or {}
        owners = [o.get("uid") for o in (obj.get("metadata") or {}).get("ownerReferences") or []]
        return [spec.get("execution"), spec.get("event"), spec.get("id"), spec.get("data"), owners]

    return json_digest(essence(a)) == json_digest(essence(b))


def belongs_to(obj: Mapping[str, Any], execution: str, uid: str) -> bool:
    """Whether the Signal ``obj`` is one of execution ``execution`` (uid ``uid``)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    return (
        adoption.owned_by(obj, uid)
        and (meta.get("labels") or {}).get(labels.PARENT) == execution
        and spec.get("execution") == execution
        and isinstance(spec.get("event"), str)
        and not meta.get("deletionTimestamp")
    )


def state(obj: Mapping[str, Any]) -> SignalState:
    """A Signal object as a waiting step sees it."""
    spec = obj.get("spec") or {}
    return SignalState(
        name=str(obj["metadata"]["name"]),
        event=str(spec.get("event")),
        data=spec.get("data"),
        id=str(spec.get("id") or ""),
        order=resource_version(obj),
    )


def of_execution(
    objects: Iterable[Mapping[str, Any]], execution: str, uid: str
) -> list[SignalState]:
    """The Signals among ``objects`` that belong to the execution, in acceptance order."""
    found = [state(o) for o in objects if belongs_to(o, execution, uid)]
    return sorted(found, key=lambda s: (s.order, s.name))


def first_unconsumed(
    signals: Sequence[SignalState], events: Iterable[str], consumed: set[str]
) -> SignalState | None:
    """The earliest signal of one of ``events`` that no recorded step consumed."""
    wanted = set(events)
    for signal in signals:
        if signal.event in wanted and signal.name not in consumed:
            return signal
    return None


def waiting_after(signals: Sequence[SignalState], event: str) -> int:
    """The acceptance order after which a new signal of ``event`` wakes a released waiter.

    Every signal of ``event`` seen so far was consumed (else the step would have taken it):
    only a later one can end the wait.
    """
    return max((s.order for s in signals if s.event == event), default=0)


def unconsumed_after(
    objects: Iterable[Mapping[str, Any]], execution: str, uid: str, event: str, after: int
) -> bool:
    """Whether an accepted Signal of ``event`` for the execution came after order ``after``."""
    return any(s.event == event and s.order > after for s in of_execution(objects, execution, uid))
