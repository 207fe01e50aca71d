"""Bulk actions from the executions list: cancel or resume the selected executions.

The list posts (with its CSRF token) either the executions checked on the page (``pick``:
``namespace/name``) or ``all=1`` with the list's filters, meaning every execution those filters
match now. The server resolves the selection from the watch-fed cache, among the namespaces the
visitor may list, and acts on each execution through :func:`~kontinue_ui.access.acting_client`:
with the visitor's own rights, as the single-execution actions do, so the API server refuses
(403) what the visitor may not do, execution by execution. Each action re-checks the phase at
action time (the cancel's write tests the phase the cache showed, and on a mismatch reads the
execution again and decides again), so an execution that finished meanwhile is reported as
skipped. The answer is a page with one row per execution.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kontinue.client import BulkReport, Outcome, Result
from kontinue_ui import listing, selectors
from kontinue_ui.access import acting_client, actor_name
from kontinue_ui.cache import Summary
from kontinue_ui.payloads import form_payload
from kontinue_ui.views.executions import visible_snapshot

blueprint = Blueprint("bulk", __name__, url_prefix="/executions/bulk")

ACTIONS = ("cancel", "resume", "retry")
MAX_PICKS = 10_000
"""The most executions one request may name with ``pick``."""


def _target(summary: Summary) -> dict[str, Any]:
    """What the client's bulk action needs of an execution, as the cache shows it."""
    return {
        "metadata": {
            "namespace": summary.namespace,
            "name": summary.name,
            "resourceVersion": summary.resource_version,
        },
        "spec": {"function": summary.function},
        "status": {"phase": summary.phase},
    }


def _back(query: listing.Query) -> Response:
    params: dict[str, Any] = query.params(page=1)
    return redirect(url_for("executions.index", **params), code=303)


@blueprint.post("")
def act() -> Any:
    """Cancel or resume the selection; answers with the report page."""
    action = request.form.get("action", "")
    if action not in ACTIONS:
        abort(400, f"unknown bulk action {action!r}: one of {', '.join(ACTIONS)}")
    client = acting_client()
    query = listing.Query.from_args(request.form)
    ok, payload = form_payload()
    if not ok:
        return _back(query)
    snapshot = visible_snapshot(query)
    missing: list[Outcome] = []
    if request.form.get("all") == "1":
        try:
            chosen = listing.matching(snapshot, query)
        except selectors.SelectorError as exc:
            flash(str(exc), "error")
            return _back(query)
    else:
        picks = list(dict.fromkeys(request.form.getlist("pick")))
        if len(picks) > MAX_PICKS:
            abort(413, f"at most {MAX_PICKS} executions can be picked one by one")
        known = {(s.namespace, s.name): s for s in snapshot}
        chosen = []
        for pick in picks:
            namespace, _, name = pick.partition("/")
            summary = known.get((namespace, name))
            if summary is None:  # gone, or in a namespace the visitor may not list
                missing.append(Outcome(namespace, name, "", Result.FAILED, "not found"))
            else:
                chosen.append(summary)
    if not chosen and not missing:
        flash("No execution is selected: check some, or select all that match.", "error")
        return _back(query)
    targets = [_target(s) for s in chosen]
    if action == "cancel":
        report = client.cancel_many(targets)
    elif action == "retry":
        report = client.retry_many(targets)
    else:
        report = client.resume_many(targets, payload, resumed_by=actor_name())
    report = BulkReport(report.action, [*report.outcomes, *missing], report.dry_run)
    return render_template("executions/bulk.html", report=report, query=query, results=list(Result))
