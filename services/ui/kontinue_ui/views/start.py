"""Start an execution: pick a Function, fill the form generated from its schema, go to it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from kontinue.api import names, policy
from kontinue.api.options import ExecuteOptions, RetryOptions, TimeoutOptions
from kontinue.client import kubeapi
from kontinue_ui import forms
from kontinue_ui.access import acting_client, current_viewer
from kontinue_ui.state import ui_state

blueprint = Blueprint("start", __name__, url_prefix="/start")


def list_functions() -> list[dict[str, Any]]:
    """Every Function in scope, sorted by namespace, group and name."""
    return sorted(
        ui_state().list_in_scope(kubeapi.FUNCTIONS, current_viewer().kube),
        key=lambda f: (
            f["metadata"]["namespace"],
            f["spec"].get("workerGroup") or "default",
            f["spec"]["name"],
        ),
    )


def _function(namespace: str, group: str, name: str) -> dict[str, Any]:
    state = ui_state()
    state.check_scope(namespace)
    found = current_viewer().kube.get_or_none(
        kubeapi.FUNCTIONS, namespace, names.function_object_name(name, group)
    )
    if found is None:
        abort(404, f"no worker of group {group} serves function {name} in namespace {namespace}")
    return found


def _defaults(function: dict[str, Any]) -> dict[str, Any]:
    """The policy an execution of ``function`` gets when the form leaves the options empty."""
    spec = function.get("spec") or {}
    resolved = policy.resolve({}, {k: spec[k] for k in ("retry", "timeout") if spec.get(k)})
    return {**resolved, "text": policy.describe(resolved)}


@blueprint.get("")
def index() -> str:
    """Pick a function."""
    return render_template("start/index.html", functions=list_functions())


@blueprint.route("/<namespace>/<group>/<name>", methods=["GET", "POST"])
def form(namespace: str, group: str, name: str) -> Any:
    """The generated form; a valid submission creates the execution and opens its page."""
    function = _function(namespace, group, name)
    schema = function["spec"].get("argumentsSchema")
    fields = forms.fields_for(schema)
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: v for k, v in request.form.items() if k != "csrf_token"}
        parsed = forms.parse(schema, request.form)
        errors = parsed.errors
        if parsed.ok:
            # options left empty are not set: the function's defaults apply to them
            retry = None
            if parsed.retries is not None or parsed.backoff:
                retry = RetryOptions(retries=parsed.retries, backoff=parsed.backoff)
            timeout = None
            if parsed.timeout or parsed.attempt_timeout:
                timeout = TimeoutOptions(overall=parsed.timeout, attempt=parsed.attempt_timeout)
            options = ExecuteOptions(retry=retry, timeout=timeout)
            created = acting_client().create_execution(
                name,
                parsed.arguments,
                options,
                worker_group=group,
                namespace=namespace,
            )
            return redirect(
                url_for(
                    "executions.detail",
                    namespace=namespace,
                    name=created["metadata"]["name"],
                ),
                code=303,
            )
    elif fields is None:
        values = {forms.JSON_FIELD: "{}" if schema and schema.get("type") == "object" else ""}
    status = 422 if errors else 200
    return (
        render_template(
            "start/form.html",
            function=function,
            schema=schema,
            fields=fields,
            values=values,
            errors=errors,
            submitted=request.method == "POST",
            json_field=forms.JSON_FIELD,
            defaults=_defaults(function),
        ),
        status,
    )
