"""The functions page (who serves what, last seen) and the schedules page with its actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from kontinue.client import kubeapi
from kontinue_ui.access import acting_client, current_viewer
from kontinue_ui.state import ui_state
from kontinue_ui.views.start import list_functions

blueprint = Blueprint("catalog", __name__)


@blueprint.get("/functions")
def functions() -> str:
    """Registered functions with their workers."""
    return render_template("functions.html", functions=list_functions())


def list_schedules() -> list[dict[str, Any]]:
    """Every ScheduledExecution in scope."""
    return sorted(
        ui_state().list_in_scope(kubeapi.SCHEDULED_EXECUTIONS, current_viewer().kube),
        key=lambda s: (s["metadata"]["namespace"], s["metadata"]["name"]),
    )


@blueprint.get("/schedules")
def schedules() -> str:
    """Schedules: next and last run, suspend, trigger now."""
    return render_template("schedules.html", schedules=list_schedules())


def _back() -> Response:
    return redirect(url_for("catalog.schedules"), code=303)


@blueprint.post("/schedules/<namespace>/<name>/trigger")
def trigger(namespace: str, name: str) -> Response:
    """Run the schedule's function now."""
    ui_state().check_scope(namespace)
    created = acting_client().trigger_schedule(name, namespace=namespace)
    flash(f"Started {created['metadata']['name']}.", "info")
    return _back()


def _set_suspended(namespace: str, name: str, suspend: bool) -> Response:
    ui_state().check_scope(namespace)
    acting_client().suspend_schedule(name, suspend, namespace=namespace)
    flash(f"{'Suspended' if suspend else 'Unsuspended'} {name}.", "info")
    return _back()


@blueprint.post("/schedules/<namespace>/<name>/suspend")
def suspend(namespace: str, name: str) -> Response:
    """Stop the schedule creating runs."""
    return _set_suspended(namespace, name, True)


@blueprint.post("/schedules/<namespace>/<name>/unsuspend")
def unsuspend(namespace: str, name: str) -> Response:
    """Let the schedule create runs again."""
    return _set_suspended(namespace, name, False)
