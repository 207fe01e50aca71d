"""An execution's recovery actions: retry it in place, or fork it from a step.

Both act in the visitor's own name (:func:`~kontinue_ui.access.acting_client`), behind the same
rights as cancel (patch on executions for a retry, which writes a request into the spec;
create for a fork), post forms with CSRF tokens, and say what they did in a flash message.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from kontinue.client import ForkRefused, RetryRefused
from kontinue_ui.access import acting_client
from kontinue_ui.state import ui_state

blueprint = Blueprint("recovery", __name__, url_prefix="/executions")


def _back(namespace: str, name: str) -> Response:
    return redirect(url_for("executions.detail", namespace=namespace, name=name), code=303)


@blueprint.post("/<namespace>/<name>/retry")
def retry(namespace: str, name: str) -> Response:
    """Retry a Failed or Canceled execution in place."""
    ui_state().check_scope(namespace)
    client = acting_client()
    try:
        client.retry(name, namespace=namespace)
    except RetryRefused as exc:
        flash(str(exc), "error")
        return _back(namespace, name)
    flash(
        f"Retry requested for {name}: it replays its committed steps and runs the rest again.",
        "info",
    )
    return _back(namespace, name)


@blueprint.post("/<namespace>/<name>/fork")
def fork(namespace: str, name: str) -> Response:
    """Start a new execution from this one's history before a step (``step`` field)."""
    ui_state().check_scope(namespace)
    client = acting_client()
    step = request.form.get("step", "").strip()
    new_name = request.form.get("new_name", "").strip() or None
    if not step:
        flash("Choose the step the fork starts from.", "error")
        return _back(namespace, name)
    try:
        created = client.fork(name, step, new_name=new_name, namespace=namespace)
    except ForkRefused as exc:
        flash(str(exc), "error")
        return _back(namespace, name)
    forked = created["metadata"]["name"]
    flash(f"Forked {name} from step {step} as {forked}.", "info")
    return redirect(url_for("executions.detail", namespace=namespace, name=forked), code=303)
