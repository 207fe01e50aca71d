"""The functions page and the schedules page with its actions.

The functions page shows who serves each function at which version, and how many unfinished
executions each version still holds.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from kontinue.api import worker_versions
from kontinue.api.phases import Phase
from kontinue.client import kubeapi
from kontinue_ui.access import acting_client, current_viewer, visible_namespaces
from kontinue_ui.state import ui_state
from kontinue_ui.views.start import list_functions

blueprint = Blueprint("catalog", __name__)


@blueprint.get("/functions")
def functions() -> str:
    """Registered functions with their workers, their versions and what each version holds."""
    listed = list_functions()
    unfinished = unfinished_by_version()
    rows = [_row(f, unfinished.get(_key(f), {})) for f in listed]
    return render_template("functions.html", functions=listed, rows=rows)


def _row(function: dict[str, Any], unfinished: dict[str, int]) -> dict[str, Any]:
    """A functions-page row: the Function, its versions (workers, upgrades), what each holds."""
    versions = [
        {
            "version": version,
            "workers": len(workers),
            "upgrades": sorted({v for w in workers for v in w.get("upgradeFrom") or []}),
            "draining": all(w.get("drain") for w in workers),
        }
        for version, workers in worker_versions.serving(function).items()
    ]
    held = sorted(unfinished.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"function": function, "versions": versions, "unfinished": held}


def _key(function: dict[str, Any]) -> tuple[str, str, str]:
    spec = function.get("spec") or {}
    group = str(spec.get("workerGroup") or "default")
    return (function["metadata"]["namespace"], group, str(spec.get("name") or ""))


def unfinished_by_version() -> dict[tuple[str, str, str], dict[str, int]]:
    """Unfinished executions in the cache per (namespace, group, function), by version.

    Only in the namespaces whose executions the visitor may list (as the executions list).
    """
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    snapshot = ui_state().cache.snapshot()
    visible = visible_namespaces({s.namespace for s in snapshot})
    for summary in snapshot:
        if Phase(summary.phase).terminal:
            continue
        if visible is not None and summary.namespace not in visible:
            continue
        per_version = counts.setdefault(
            (summary.namespace, summary.worker_group, summary.function), {}
        )
        version = summary.worker_version or worker_versions.UNPINNED
        per_version[version] = per_version.get(version, 0) + 1
    return counts


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
