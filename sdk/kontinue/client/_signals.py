"""Sending events to executions: :meth:`Client.signal`, and reading what was sent.

A signal is one Signal object (see :mod:`kontinue.api.signals`): one API write. Its name comes
from the execution and the id, so sending again with the same id (after an answer lost on the
way back) finds the first copy and changes nothing: the event is delivered once. Without an id
the client makes one up and keeps it for its own retries of the same send.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kontinue import errors
from kontinue.api import conversion, labels, signals
from kontinue.api.phases import execution_phase
from kontinue.client import kubeapi

_SEND_ATTEMPTS = 5


class SignalRejected(ValueError):
    """A signal that cannot be delivered: no such execution, or it already finished.

    Nothing is left behind.
    """


@dataclass(frozen=True)
class SignalSent:
    """A signal the API server accepted."""

    signal: dict[str, Any]
    """The Signal object."""
    duplicate: bool
    """It had been sent before with the same id (this send changed nothing)."""

    @property
    def name(self) -> str:
        """The Signal object's name."""
        return str(self.signal["metadata"]["name"])

    @property
    def id(self) -> str:
        """The id it was sent with."""
        return str((self.signal.get("spec") or {}).get("id") or "")


class SignalsMixin:
    """The signal methods of :class:`~kontinue.client.Client`."""

    kube: kubeapi.Kube
    namespace: str

    def signal(
        self,
        name: str,
        event: str,
        data: Any = None,
        *,
        id: str | None = None,  # noqa: A002 - the option is called id everywhere
        namespace: str | None = None,
    ) -> SignalSent:
        """Send ``event`` with the JSON payload ``data`` to execution ``name``.

        A workflow receives it with ``kontinue.wait_for_event`` (or ``wait_first``): once, in
        the order the signals were accepted, also when it arrives before the workflow waits.
        ``id`` makes the send idempotent: a second send with the same id (and the same event
        and payload) delivers nothing more.

        Raises:
            SignalRejected: the execution does not exist or already finished.
            ValidationError: a bad event name, a payload that is not JSON or too large, or an
                id already used for another event or payload.
        """
        ns = namespace or self.namespace
        try:
            signals.check_event_name(event)
        except ValueError as exc:
            raise errors.ValidationError(str(exc)) from None
        if id is not None and not id:
            raise errors.ValidationError("a signal id must not be empty")
        payload = conversion.to_json(data, "the signal's payload") if data is not None else None
        conversion.check_size(
            payload, signals.MAX_DATA_BYTES,
            "the signal's payload is {size} bytes of JSON; at most {limit} bytes fit",
        )  # fmt: skip
        execution = self.kube.get_or_none(kubeapi.EXECUTIONS, ns, name)
        if execution is None:
            raise SignalRejected(f"execution {name} does not exist in namespace {ns}")
        phase = execution_phase(execution)
        if phase.terminal:
            raise SignalRejected(f"execution {name} already finished ({phase}): nothing to signal")
        manifest = signals.signal_manifest(execution, event, payload, id or uuid.uuid4().hex)
        return self._send(ns, manifest)

    def _send(self, namespace: str, manifest: Mapping[str, Any]) -> SignalSent:
        """Create the Signal; one that exists already is this send's earlier copy, or refused."""
        backoff = kubeapi.Backoff()
        for attempt in range(_SEND_ATTEMPTS):
            try:
                return SignalSent(self.kube.create(kubeapi.SIGNALS, namespace, manifest), False)
            except kubeapi.AlreadyExists:
                existing = self.kube.get(kubeapi.SIGNALS, namespace, manifest["metadata"]["name"])
                if not signals.same_signal(existing, manifest):
                    raise errors.ValidationError(
                        f"signal id {manifest['spec']['id']!r} was already used for another "
                        f"event or payload (Signal {existing['metadata']['name']})"
                    ) from None
                return SignalSent(existing, True)
            except kubeapi.Invalid as exc:
                raise errors.ValidationError(f"the signal is invalid: {exc.message}") from exc
            except (kubeapi.Unreachable, kubeapi.ServerError):
                if attempt == _SEND_ATTEMPTS - 1:
                    raise
                backoff.sleep()  # the same name: a create that landed is found next time
        raise AssertionError("unreachable")

    def signals(self, name: str, *, namespace: str | None = None) -> list[dict[str, Any]]:
        """The Signals sent to execution ``name`` that belong to it, in acceptance order."""
        ns = namespace or self.namespace
        execution = self.kube.get(kubeapi.EXECUTIONS, ns, name)
        listed = self.kube.list(kubeapi.SIGNALS, ns, label_selector=f"{labels.PARENT}={name}")
        uid = execution["metadata"]["uid"]
        mine = [o for o in listed.get("items") or [] if signals.belongs_to(o, name, uid)]
        return sorted(mine, key=lambda o: (signals.state(o).order, o["metadata"]["name"]))
