"""Events on an execution's page: what it waits for, buffered events, and "Send event".

Sending an event is an action like resume: the read-only guard refuses it first, the form
carries a CSRF token, and the Signal is created with the visitor's own rights
(:func:`~kontinue_ui.access.acting_client`), so the API server decides who may send it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from kontinue import errors
from kontinue.api import labels, signals
from kontinue.client import SignalRejected, kubeapi
from kontinue_ui.access import acting_client, viewer_client
from kontinue_ui.payloads import form_payload
from kontinue_ui.state import ui_state

blueprint = Blueprint("events", __name__, url_prefix="/executions")

_EVENT_STEPS = ("event", "first")


def events_context(namespace: str, execution: Mapping[str, Any]) -> dict[str, Any]:
    """What the page's Events panel shows: awaited events, buffered and consumed signals.

    A visitor who may not list Signals sees the awaited events only.
    """
    name = execution["metadata"]["name"]
    status = execution.get("status") or {}
    try:
        listed = viewer_client().kube.list(
            kubeapi.SIGNALS, namespace, label_selector=f"{labels.PARENT}={name}"
        )
    except kubeapi.Forbidden:  # a visitor who may not read Signals still sees the page
        listed = {"items": []}
    uid = execution["metadata"].get("uid", "")
    sent = [o for o in listed.get("items") or [] if signals.belongs_to(o, name, uid)]
    sent.sort(key=lambda o: (signals.state(o).order, o["metadata"]["name"]))
    steps = status.get("steps") or {}
    consumed = {
        str(s["child"]): step
        for step, s in steps.items()
        if isinstance(s, Mapping) and s.get("type") in _EVENT_STEPS and s.get("child")
    }
    return {
        "awaited_events": [
            i["name"] for i in status.get("suspendedOn") or [] if i.get("kind") == "Signal"
        ],
        "signals": [
            {"object": o, "consumed_by": consumed.get(o["metadata"]["name"])} for o in sent
        ],
    }


def _back(namespace: str, name: str) -> Response:
    return redirect(url_for("executions.detail", namespace=namespace, name=name), code=303)


@blueprint.post("/<namespace>/<name>/signal")
def send(namespace: str, name: str) -> Response:
    """Send an event (``event`` field) with an optional JSON payload (``data`` field)."""
    ui_state().check_scope(namespace)
    client = acting_client()
    event = request.form.get("event", "").strip()
    ok, payload = form_payload()
    if not ok:
        return _back(namespace, name)
    signal_id = request.form.get("id", "").strip() or None
    try:
        sent = client.signal(name, event, payload, id=signal_id, namespace=namespace)
    except (SignalRejected, errors.ValidationError) as exc:
        flash(str(exc), "error")
        return _back(namespace, name)
    if sent.duplicate:
        flash(f"Event {event!r} with id {sent.id} was already sent: not sent again.", "info")
    else:
        flash(f"Sent event {event!r} to {name}.", "info")
    return _back(namespace, name)
