"""Archived executions: the list, and one archived tree (its executions, steps, suspensions, jobs).

An ArchivedExecution holds a finished tree the controller compressed (``ttl.archiveAfter``);
the pages decode it (:func:`kontinue.api.archive.decode`) and show it read-only, the way an
execution's page shows a live one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, abort, render_template, request

from kontinue.api import archive, labels
from kontinue.api.phases import execution_phase
from kontinue.client import kubeapi
from kontinue_ui import timeline
from kontinue_ui.state import ui_state
from kontinue_ui.views.executions import job_phase

blueprint = Blueprint("archives", __name__, url_prefix="/archives")


def list_archives() -> list[dict[str, Any]]:
    """Every ArchivedExecution in scope, most recently finished first."""
    items = ui_state().list_in_scope(kubeapi.ARCHIVED_EXECUTIONS)
    return sorted(
        items,
        key=lambda a: (
            ((a.get("spec") or {}).get("execution") or {}).get("finishedAt") or "",
            a["metadata"]["name"],
        ),
        reverse=True,
    )


@blueprint.get("")
def index() -> str:
    """The archives: what each holds, when it finished, when it goes."""
    return render_template("archives/list.html", archives=list_archives())


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


@blueprint.get("/<namespace>/<name>")
def detail(namespace: str, name: str) -> str:
    """One archived tree; ``?execution=`` picks which of its executions to show in full."""
    state = ui_state()
    state.check_scope(namespace)
    found = state.kube.get_or_none(kubeapi.ARCHIVED_EXECUTIONS, namespace, name)
    if found is None:
        abort(404, f"no archived execution {name} in namespace {namespace}")
    try:
        objects = archive.decode(found)
    except (ValueError, OSError) as exc:
        abort(422, f"archive {name} cannot be read: {exc}")
    executions = _by_kind(objects, "Execution")
    if not executions:
        abort(422, f"archive {name} holds no execution")
    chosen_name = request.args.get("execution") or executions[0]["metadata"]["name"]
    chosen = next((e for e in executions if e["metadata"]["name"] == chosen_name), None)
    if chosen is None:
        abort(404, f"archive {name} holds no execution {chosen_name}")
    owned = _owned_by(objects, chosen_name)
    return render_template(
        "archives/detail.html",
        archive=found,
        namespace=namespace,
        name=name,
        executions=executions,
        execution=chosen,
        status=chosen.get("status") or {},
        phase=execution_phase(chosen),
        steps=timeline.steps(chosen),
        children=_by_kind(owned, "Execution"),
        suspensions=_by_kind(owned, "Suspension"),
        jobs=_by_kind(objects, "Job"),
        job_phase=job_phase,
        depth=_depths(executions),
    )


def _owned_by(objects: list[dict[str, Any]], parent: str) -> list[dict[str, Any]]:
    return [o for o in objects if (o["metadata"].get("labels") or {}).get(labels.PARENT) == parent]


def _depths(executions: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How deep each execution sits in the tree (the root at 0), for indentation."""
    parents = {
        e["metadata"]["name"]: (e["metadata"].get("labels") or {}).get(labels.PARENT)
        for e in executions
    }
    depths: dict[str, int] = {}
    for name in parents:
        depth, current, seen = 0, parents.get(name), {name}
        while current and current in parents and current not in seen:
            seen.add(current)
            depth += 1
            current = parents.get(current)
        depths[name] = depth
    return depths
