"""The executions list, an execution's page, and its actions (cancel, resume, job logs).

The page's Events panel (awaited events, signals, "Send event") is :mod:`.events`'.

Live updates: a page's live region asks again every ``refresh_seconds`` with the token of what
it shows; the answer comes from the watch-fed cache, and is 204 (nothing to swap) unless
something it shows changed, so an idle page costs the API server nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kontinue.api import attempts, group, labels, policy, transitions
from kontinue.api.phases import Phase, SuspensionPhase, execution_phase, job_end, suspension_phase
from kontinue.client import SuspensionNotWaiting, kubeapi
from kontinue_ui import access, formatting, listing, selectors, timeline
from kontinue_ui.access import acting_client, actor_name, viewer_client
from kontinue_ui.cache import Summary
from kontinue_ui.payloads import form_payload
from kontinue_ui.state import ui_state
from kontinue_ui.views import events

blueprint = Blueprint("executions", __name__, url_prefix="/executions")

PHASES = [p.value for p in Phase]


def _is_live_request() -> bool:
    return request.headers.get("HX-Request") == "true"


def visible_snapshot(query: listing.Query) -> list[Summary]:
    """The cached summaries the visitor may list (403 when that is none of the namespaces)."""
    state = ui_state()
    snapshot = state.cache.snapshot()
    candidates = set(state.namespaces or ()) | {s.namespace for s in snapshot}
    visible = access.visible_namespaces(candidates)
    if visible is None:
        return snapshot
    if query.namespace and query.namespace not in visible:
        access.require("list", group.EXECUTION.plural, query.namespace)
    if candidates and not visible:
        access.require("list", group.EXECUTION.plural, sorted(candidates)[0])
    return [s for s in snapshot if s.namespace in visible]


@blueprint.get("")
def index() -> Any:
    """The executions list: filters, sorting, pagination, live rows."""
    state = ui_state()
    query = listing.Query.from_args(request.args)
    snapshot = visible_snapshot(query)
    error = None
    try:
        page = listing.run(snapshot, query, state.settings.page_size)
    except selectors.SelectorError as exc:
        error = str(exc)
        page = listing.run(snapshot, replace(query, label=""), state.settings.page_size)
    if request.args.get("since") == page.token:
        return Response(status=204)
    context = {
        "page": page,
        "query": query,
        "error": error,
        "phases": PHASES,
        "functions": sorted({s.function for s in snapshot}),
        "synced": state.cache.synced,
        "sorts": list(listing.SORTS),
    }
    if _is_live_request():
        return render_template("executions/_table.html", **context)
    return render_template("executions/list.html", **context)


def _related(namespace: str, name: str) -> dict[str, list[dict[str, Any]]]:
    """Children, suspensions and jobs in creation order."""
    parts = viewer_client().related(name, namespace=namespace)
    return {
        kind: sorted(items, key=lambda o: o["metadata"].get("creationTimestamp") or "")
        for kind, items in parts.items()
    }


def _token(namespace: str, name: str) -> str:
    """What the live region's content depends on, from the cache ("" when not cached)."""
    cache = ui_state().cache
    summary = cache.get(namespace, name)
    if summary is None:
        return ""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(summary.resource_version.encode())
    for child in sorted(cache.children(namespace, name), key=lambda s: s.name):
        digest.update(f"|{child.name}@{child.resource_version}".encode())
    return digest.hexdigest()


def job_phase(job: Mapping[str, Any]) -> str:
    """A Job's state in one word."""
    end = job_end(job)
    if end is not None:
        return "Succeeded" if end["type"] == "Complete" else "Failed"
    return "Suspended" if (job.get("spec") or {}).get("suspend") else "Running"


def _detail_context(namespace: str, name: str) -> dict[str, Any]:
    state = ui_state()
    state.check_scope(namespace)
    # The token first: content read after it is at least as new, so a change that lands
    # between the two makes the next refresh render again instead of hiding behind a 204.
    token = _token(namespace, name)
    execution = viewer_client().get(name, namespace=namespace)
    parts = _related(namespace, name)
    status = execution.get("status") or {}
    steps = timeline.steps(execution)
    suspensions = {s["metadata"]["name"]: s for s in parts["suspensions"]}
    jobs = {j["metadata"]["name"]: j for j in parts["jobs"]}
    return {
        "execution": execution,
        "namespace": namespace,
        "name": name,
        "status": status,
        "phase": execution_phase(execution),
        "cancelable": transitions.allows("cancel", execution_phase(execution)),
        "retryable": transitions.allows("retry", execution_phase(execution))
        and not (execution.get("spec") or {}).get("parent"),
        "steps": steps,
        "children": parts["children"],
        "suspensions": parts["suspensions"],
        "waiting": [
            s for s in parts["suspensions"] if suspension_phase(s) == SuspensionPhase.SUSPENDED
        ],
        "jobs": jobs,
        "job_steps": [s for s in steps if s.child in jobs],
        "suspension_of": suspensions,
        "job_phase": job_phase,
        "token": token,
        "progress": _progress(status),
        "attempt_number": status.get("attempt") or attempts.previous(status) + 1,
        "attempt_limit": int(policy.retry_of(execution).get("retries") or 0) + 1,
        **events.events_context(namespace, execution),
    }


def _progress(status: Mapping[str, Any]) -> dict[str, Any] | None:
    progress = status.get("progress") or {}
    if "current" not in progress:
        return None
    maximum = progress.get("max") or 0
    percent = formatting.percent((progress["current"], maximum))
    return {"current": progress["current"], "max": maximum, "percent": percent}


@blueprint.get("/<namespace>/<name>")
def detail(namespace: str, name: str) -> str:
    """An execution's page."""
    return render_template("executions/detail.html", **_detail_context(namespace, name))


@blueprint.get("/<namespace>/<name>/live")
def live(namespace: str, name: str) -> Any:
    """The execution page's live region (204 while nothing it shows changed)."""
    ui_state().check_scope(namespace)
    access.require("get", group.EXECUTION.plural, namespace, name=name)
    since = request.args.get("since")
    if since and since == _token(namespace, name):
        return Response(status=204)
    return render_template("executions/_detail.html", **_detail_context(namespace, name))


def _back(namespace: str, name: str) -> Response:
    return redirect(url_for("executions.detail", namespace=namespace, name=name), code=303)


@blueprint.post("/<namespace>/<name>/cancel")
def cancel(namespace: str, name: str) -> Response:
    """Cancel the execution and its tree."""
    ui_state().check_scope(namespace)
    client = acting_client()
    phase = execution_phase(client.get(name, namespace=namespace))
    if not transitions.allows("cancel", phase):
        flash(f"{name} already finished ({phase.value}).", "error")
    else:
        client.cancel(name, namespace=namespace)
        flash(f"Cancel requested for {name} and its children.", "info")
    return _back(namespace, name)


@blueprint.post("/<namespace>/<name>/resume")
def resume(namespace: str, name: str) -> Response:
    """Resume one suspension (``suspension`` field) or every waiting one, with a payload."""
    ui_state().check_scope(namespace)
    client = acting_client()
    ok, payload = form_payload()
    if not ok:
        return _back(namespace, name)
    suspension = request.form.get("suspension", "").strip()
    if suspension:
        found = client.kube.get(kubeapi.SUSPENSIONS, namespace, suspension)
        if (found.get("metadata", {}).get("labels") or {}).get(labels.PARENT) != name:
            abort(404, f"suspension {suspension} does not belong to execution {name}")
        try:
            client.resume_suspension(
                suspension, payload, namespace=namespace, resumed_by=actor_name()
            )
        except SuspensionNotWaiting as exc:
            flash(str(exc), "error")
            return _back(namespace, name)
        flash(f"Resumed {suspension}.", "info")
    else:
        resumed = client.resume_execution(
            name, data=payload, namespace=namespace, resumed_by=actor_name()
        )
        if resumed:
            flash(f"Resumed {', '.join(resumed)}.", "info")
        else:
            flash(f"{name} has no waiting suspension.", "error")
    return _back(namespace, name)


@blueprint.get("/<namespace>/<name>/logs/<step>")
def logs(namespace: str, name: str, step: str) -> str:
    """The pod logs of one job step (a fragment)."""
    ui_state().check_scope(namespace)
    reader = viewer_client()
    execution = reader.get(name, namespace=namespace)
    record = ((execution.get("status") or {}).get("steps") or {}).get(step)
    if not record or not record.get("child"):
        abort(404, f"execution {name} has no job step {step}")
    pods = reader.kube.list(
        kubeapi.PODS, namespace, label_selector=f"{labels.JOB_NAME}={record['child']}"
    )["items"]
    entries = []
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        try:
            text = reader.kube.pod_log(namespace, pod_name, container=None, tail_lines=2000)
            entries.append({"pod": pod_name, "log": text, "error": None})
        except kubeapi.ApiError as exc:
            entries.append({"pod": pod_name, "log": "", "error": exc.message})
    return render_template("executions/_logs.html", step=step, job=record["child"], entries=entries)
