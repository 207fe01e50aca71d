"""Commands on executions: execute, list, show, resume, cancel, logs.

``resume`` and ``cancel`` act on a selection too (:mod:`kontinue.cli._bulk`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import click
import jsonschema
import yaml

from kontinue.api import attempts, labels, policy, schemas, selectors, transitions
from kontinue.api.phases import execution_phase
from kontinue.cli import _bulk, _render
from kontinue.cli._context import (
    DURATION,
    client,
    connection_options,
    fail,
    handles_errors,
    json_value,
)
from kontinue.cli._follow import follow_execution
from kontinue.cli._signal import waiting_summary
from kontinue.cli._steps import outcome_exit, print_outcome, progress_text, related, step_tree
from kontinue.client import SuspensionNotWaiting, WaitTimeout, bulk, kubeapi
from kontinue.workflow import (
    ExecuteOptions,
    ExecutionMutex,
    RetryOptions,
    TimeoutOptions,
    TTLOptions,
)

EXIT_WAIT_TIMEOUT = 4
_JOB_STEPS = ("job", "pod", "script")


def _parse_arguments(text: str | None, source: Any) -> Any:
    if text is not None and source is not None:
        fail("give the arguments either inline or with -f, not both")
    if source is not None:
        try:
            return yaml.safe_load(source.read())
        except yaml.YAMLError as exc:
            fail(f"{source.name} is not YAML or JSON: {exc}")
        except RecursionError:
            fail(f"{source.name} nests too deeply (at most 100 levels)")
    return json_value(text, "the arguments", plural=True)


def function_object(function: str, group: str) -> dict[str, Any]:
    """The Function a worker of ``group`` registered for ``function``, or a clear error."""
    namespace = client().namespace
    functions = client().kube.list(kubeapi.FUNCTIONS, namespace)["items"]
    served = [f for f in functions if (f["spec"].get("workerGroup") or "default") == group]
    for candidate in served:
        if candidate["spec"]["name"] == function:
            return dict(candidate)
    for candidate in _cluster_scoped_functions(group):
        if candidate["spec"]["name"] == function:
            return dict(candidate)
    known = sorted(f["spec"]["name"] for f in served)
    if not known:
        fail(
            f"unknown function {function!r}: no worker of group {group!r} has registered any "
            f"function in namespace {namespace} (is a worker running? --no-check creates anyway)"
        )
    fail(f"unknown function {function!r} in group {group!r}; known: {', '.join(known)}")


def _cluster_scoped_functions(group: str) -> list[dict[str, Any]]:
    """Functions of workers serving every namespace (they live in those workers' namespace).

    Empty when the user may not list Functions across namespaces.
    """
    selector = f"{labels.WORKER_SCOPE}={labels.CLUSTER_SCOPE}"
    try:
        found = client().kube.list(kubeapi.FUNCTIONS, None, label_selector=selector)["items"]
    except (kubeapi.Forbidden, kubeapi.NotFound):
        return []
    return [f for f in found if (f["spec"].get("workerGroup") or "default") == group]


def validate_arguments(function: Mapping[str, Any], arguments: Any) -> None:
    """Check ``arguments`` against the Function's argument schema, naming the field at fault."""
    name = function["spec"]["name"]
    schema = function["spec"].get("argumentsSchema")
    if schema is None:
        if arguments not in (None, {}):
            fail(f"function {name} takes no arguments")
        return
    try:
        jsonschema.validate(arguments if arguments is not None else {}, schema)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(the arguments)"
        fail(f"invalid arguments for {name}: {where}: {exc.message}")


_CLICK_TYPES: dict[str, click.ParamType[Any]] = {
    "integer": click.INT,
    "number": click.FLOAT,
    "boolean": click.BOOL,
    "string": click.STRING,
}
_SKIP = object()


def _prompt_value(name: str, prop: Mapping[str, Any], required: bool) -> Any:
    label = str(prop.get("title") or name)
    for line in str(prop.get("description") or "").splitlines():  # the field's help (docstring)
        click.echo(click.style(f"# {line}", dim=True))
    default = prop.get("default")
    if "enum" in prop:
        choices = {str(v): v for v in prop["enum"]}
        picked = click.prompt(
            label, type=click.Choice(list(choices)),
            default=None if default is None else str(default),
        )  # fmt: skip
        return choices[picked]
    kind = _CLICK_TYPES.get(str(prop.get("type")))
    if kind is None:  # objects, arrays, unions: JSON
        while True:
            text = click.prompt(
                f"{label} [JSON]", default=json.dumps(default) if default is not None else
                ("" if not required else None), show_default=default is not None,
            )  # fmt: skip
            if text == "" and not required:
                return _SKIP
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                click.echo(f"Error: not JSON: {exc.msg}", err=True)
    if default is None and not required:
        text = click.prompt(label, default="", show_default=False)
        return _SKIP if text == "" else kind.convert(text, None, None)
    return click.prompt(label, type=kind, default=default)


def prompt_arguments(function: Mapping[str, Any]) -> Any:
    """Ask for each argument the Function's schema describes (defaults offered, types checked)."""
    schema = function["spec"].get("argumentsSchema")
    if schema is None:
        return None
    root = schemas.resolve(schema, schema)
    if root.get("type") != "object" or not isinstance(root.get("properties"), Mapping):
        return _prompt_value("arguments", root, required=True)
    values: dict[str, Any] = {}
    for name, prop, required in schemas.properties_in_order(root, schema):
        value = _prompt_value(name, prop, required=required)
        if value is not _SKIP:
            values[name] = value
    return values


@click.command()
@click.argument("function")
@click.argument("arguments", required=False)
@click.option("--args", "args_option", metavar="JSON", help="The arguments (as ARGUMENTS).")
@click.option("-f", "--file", "source", type=click.File(), help="Arguments from a YAML/JSON file.")
@click.option("--name", help="Name of the Execution.")
@click.option("--generate-name", help="Name prefix (a random suffix is added).")
@click.option(
    "--retries", type=click.IntRange(min=0),
    help="Retries after a failed attempt (default: the function's, else 0).",
)  # fmt: skip
@click.option(
    "--backoff", type=DURATION,
    help="Wait between attempts, e.g. 10s (default: the function's, else 5s).",
)  # fmt: skip
@click.option(
    "--child-policy", type=click.Choice(["None", "RetryFailed"]),
    help="What a retry does with failed children (default: the function's, else None).",
)  # fmt: skip
@click.option(
    "--timeout", type=DURATION, help="Overall time limit, e.g. 1h (default: the function's)."
)
@click.option(
    "--attempt-timeout", type=DURATION,
    help="Time limit of one attempt (default: the function's).",
)  # fmt: skip
@click.option(
    "--ttl", type=DURATION,
    help="Delete the execution (and its tree) this long after it finished.",
)  # fmt: skip
@click.option(
    "--archive-after", type=DURATION, help="Archive the tree this long after it finished."
)
@click.option("--mutex", help="Run under this named mutex.")
@click.option("--group", default="default", show_default=True, help="Worker group.")
@click.option("--wait", is_flag=True, help="Wait for the outcome; the exit code reflects it.")
@click.option("--wait-timeout", type=float, help="Give up waiting after this many seconds.")
@click.option("--follow", is_flag=True, help="Show the execution live until it ends.")
@click.option("-i", "--interactive", is_flag=True, help="Ask for each argument (from the schema).")
@click.option("--no-check", is_flag=True, help="Create even if no worker registered FUNCTION.")
@click.option("-o", "--output", type=click.Choice(["name", "json", "yaml"]))
@connection_options
@handles_errors("execute")
def execute(
    function: str, arguments: str | None, args_option: str | None, source: Any,
    name: str | None, generate_name: str | None, retries: int | None, backoff: str | None,
    child_policy: str | None, timeout: str | None, attempt_timeout: str | None,
    ttl: str | None, archive_after: str | None, mutex: str | None, group: str, wait: bool,
    wait_timeout: float | None, follow: bool, interactive: bool, no_check: bool,
    output: str | None,
) -> None:  # fmt: skip
    """Start an execution of FUNCTION with ARGUMENTS (JSON, or --args, or -f FILE).

    Retry and timeout options left out take the function's registered defaults.
    """
    if arguments is not None and args_option is not None:
        fail("give the arguments either as ARGUMENTS or with --args, not both")
    args = _parse_arguments(arguments if arguments is not None else args_option, source)
    if interactive and args is not None:
        fail("--interactive asks for the arguments; do not give them as well")
    registered = function_object(function, group) if interactive or not no_check else None
    if interactive and registered is not None:
        args = prompt_arguments(registered)
    if registered is not None and not no_check:
        validate_arguments(registered, args)
    retry = None
    if retries is not None or backoff is not None or child_policy is not None:
        retry = RetryOptions(
            retries=retries,
            backoff=backoff,
            child_policy=child_policy,  # type: ignore[arg-type]  # click checked the choice
        )
    limits = None
    if timeout or attempt_timeout:
        limits = TimeoutOptions(overall=timeout, attempt=attempt_timeout)
    cleanup = None
    if ttl or archive_after:
        cleanup = TTLOptions(delete_after=ttl, archive_after=archive_after)
    options = ExecuteOptions(
        retry=retry, timeout=limits, mutex=ExecutionMutex(name=mutex) if mutex else None
    )
    try:
        created = client().create_execution(
            function, args, options, name=name, generate_name=generate_name,
            worker_group=group, ttl=cleanup,
        )  # fmt: skip
    except ValueError as exc:
        fail(str(exc))
    execution_name = created["metadata"]["name"]
    if output in ("json", "yaml"):
        _render.dump(created, output)
    elif output == "name":
        click.echo(f"execution.kontinue.cloud/{execution_name}")
    else:
        click.echo(f"execution.kontinue.cloud/{execution_name} created")
        if registered is not None:
            _echo_policy(registered, created)
    if follow:
        sys.exit(outcome_exit(follow_execution(client(), execution_name)))
    if wait:
        try:
            done = client().wait(execution_name, timeout=wait_timeout)
        except WaitTimeout as exc:
            click.echo(f"kontinue: {exc}", err=True)
            sys.exit(EXIT_WAIT_TIMEOUT)
        print_outcome(done)
        sys.exit(outcome_exit(done))


def _echo_policy(function: Mapping[str, Any], created: Mapping[str, Any]) -> None:
    """Say which retry and timeout policy applies, and which of it the function's defaults set."""
    spec = function.get("spec") or {}
    defaults = {k: spec[k] for k in ("retry", "timeout") if spec.get(k)}
    if not defaults:
        return
    effective = policy.resolve(created.get("spec") or {}, defaults)
    click.echo(f"policy: {policy.describe(effective)} (unset options: the function's defaults)")


@click.command("list")
@click.option("--phase", help="Only this phase.")
@click.option("--function", help="Only this function.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace.")
@click.option(
    "-l", "--selector",
    help="Label selector (e.g. customer=acme); also matches the labels workflows set.",
)  # fmt: skip
@click.option(
    "--sort-by", type=click.Choice(["age", "name", "phase", "function"]), default="age",
    show_default=True,
)  # fmt: skip
@click.option("-o", "--output", type=click.Choice(_render.FORMATS), default="table")
@connection_options
@handles_errors("list")
def list_executions(
    phase: str | None, function: str | None, all_namespaces: bool, selector: str | None,
    sort_by: str, output: str,
) -> None:  # fmt: skip
    """List executions (newest last).

    ``-l`` matches the executions' labels and the labels their workflows set while running
    (``kontinue.set_labels``).
    """
    try:
        items = client().list(
            phase=phase, function=function, label_selector=selector, all_namespaces=all_namespaces
        )
    except selectors.SelectorError as exc:
        fail(f"-l: {exc}")
    keys = {
        "age": lambda e: (e["metadata"]["creationTimestamp"], e["metadata"]["name"]),
        "name": lambda e: (e["metadata"]["namespace"], e["metadata"]["name"]),
        "phase": lambda e: (execution_phase(e).value, e["metadata"]["name"]),
        "function": lambda e: (e["spec"].get("function", ""), e["metadata"]["name"]),
    }
    items.sort(key=keys[sort_by])
    where = "any namespace" if all_namespaces else f"namespace {client().namespace}"
    if _render.emitted("Execution", items, output, f"No executions found in {where}."):
        return
    headers = ["NAME", "PHASE", "FUNCTION", "PROGRESS", "AGE", "MESSAGE"]
    if output == "wide":
        headers += ["WORKER", "ATTEMPTS", "RESUMPTIONS", "PARENT"]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    rows = []
    for item in items:
        status = item.get("status") or {}
        row = [
            item["metadata"]["name"], _render.phase_text(status.get("phase")),
            item["spec"].get("function", ""), progress_text(status),
            _render.age(item["metadata"].get("creationTimestamp")), status.get("message") or "",
        ]  # fmt: skip
        if output == "wide":
            row += [
                status.get("workerName") or "",
                str(status.get("attempt") or attempts.previous(status) + 1),
                str(status.get("resumptions") or 0),
                ((item["spec"].get("parent") or {}).get("name")) or "",
            ]  # fmt: skip
        if all_namespaces:
            row.insert(0, item["metadata"]["namespace"])
        rows.append(row)
    _render.table(headers, rows)


@click.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Choice(["tree", "json", "yaml"]), default="tree")
@connection_options
@handles_errors("show")
def show(name: str, output: str) -> None:
    """Show an execution: steps, attempts, children, suspensions, jobs, result or error."""
    execution = client().get(name)
    parts = related(name)
    sent = client().signals(name)
    if output in ("json", "yaml"):
        _render.dump({"execution": execution, **parts, "signals": sent}, output)
        return
    _render.console().print(step_tree(execution, parts))
    for line in waiting_summary(execution, sent, parts["suspensions"]):
        click.echo(line)


@click.command()
@click.argument("names", metavar="[NAME]...", nargs=-1)
@click.option("-r", "--recursive", is_flag=True, help="Also the descendants' suspensions.")
@click.option("--data", help="JSON payload handed to the workflow.")
@click.option("--step", help="With a selection: only the suspension this step created.")
@_bulk.selection_options
@click.option("-o", "--output", type=click.Choice(_bulk.OUTPUTS))
@connection_options
@handles_errors("resume")
def resume(
    names: tuple[str, ...], recursive: bool, data: str | None, step: str | None,
    selector: str | None, functions: tuple[str, ...], phases: tuple[str, ...],
    all_namespaces: bool, every: bool, dry_run: bool, yes: bool, output: str | None,
) -> None:  # fmt: skip
    """Resume a suspension, or every waiting suspension of an execution.

    With a selection (-l, --function, --phase, -A, --all, several NAMEs or --step), every
    waiting suspension of each selected execution, reported execution by execution.
    """
    payload = json_value(data, "--data")
    flags = _bulk.Flags(selector, functions, phases, all_namespaces, every, dry_run, yes)
    if len(names) != 1 or flags.selecting or dry_run or step is not None:
        if recursive:
            fail("-r applies to one NAME, not to a selection")
        _bulk.act(
            "resume", names, flags, output or "table",
            lambda c, targets, dry: c.resume_many(targets, payload, step=step, dry_run=dry),
            bulk.unfinished,
        )  # fmt: skip
    if output == "table":
        fail("-o table is for a selection; one NAME prints name, json or yaml")
    _resume_one(names[0], recursive, payload, output or "name")


def _resume_one(name: str, recursive: bool, payload: Any, output: str) -> None:
    """``kontinue resume NAME``: a suspension, or the waiting suspensions of an execution."""
    c = client()
    if c.kube.get_or_none(kubeapi.SUSPENSIONS, c.namespace, name) is not None:
        try:
            c.resume_suspension(name, payload)  # resumedBy: the user this kubeconfig is
        except SuspensionNotWaiting as exc:
            fail(str(exc))
        resumed = [name]
    else:
        c.get(name)  # a clear not-found for a name that is neither
        resumed = c.resume_execution(name, recursive=recursive, data=payload)
        if not resumed:
            fail(f"execution {name} has no waiting suspension")
    if output != "name":
        objects = [c.kube.get(kubeapi.SUSPENSIONS, c.namespace, s) for s in resumed]
        _render.dump(_render.as_list("Suspension", objects), output)
        return
    for suspension in resumed:
        click.echo(f"suspension.kontinue.cloud/{suspension} resumed")


@click.command()
@click.argument("names", metavar="[NAME]...", nargs=-1)
@_bulk.selection_options
@click.option("-o", "--output", type=click.Choice(_bulk.OUTPUTS))
@connection_options
@handles_errors("cancel")
def cancel(
    names: tuple[str, ...], selector: str | None, functions: tuple[str, ...],
    phases: tuple[str, ...], all_namespaces: bool, every: bool, dry_run: bool, yes: bool,
    output: str | None,
) -> None:  # fmt: skip
    """Cancel an execution and its whole tree.

    With a selection (-l, --function, --phase, -A, --all or several NAMEs), every unfinished
    execution selected, reported execution by execution.
    """
    flags = _bulk.Flags(selector, functions, phases, all_namespaces, every, dry_run, yes)
    if len(names) != 1 or flags.selecting or dry_run:
        _bulk.act(
            "cancel", names, flags, output or "table",
            lambda c, targets, dry: c.cancel_many(targets, dry_run=dry), bulk.unfinished,
        )  # fmt: skip
    if output == "table":
        fail("-o table is for a selection; one NAME prints name, json or yaml")
    name = names[0]
    phase = execution_phase(client().get(name))
    if not transitions.allows("cancel", phase):
        fail(f"execution {name} already finished ({phase.value})")
    updated = client().cancel(name)
    if output not in (None, "name"):
        _render.dump(updated, output)
        return
    click.echo(f"execution.kontinue.cloud/{name} canceling")


@click.command()
@click.argument("name")
@click.argument("step", required=False)
@click.option("--tail", type=int, default=-1, help="Lines from the end (default: all).")
@click.option("-c", "--container", help="Container (default: the first).")
@click.option("-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text")
@connection_options
@handles_errors("logs")
def logs(name: str, step: str | None, tail: int, container: str | None, output: str) -> None:
    """Print the logs of an execution's job steps (or of one STEP)."""
    c = client()
    steps = (c.get(name).get("status") or {}).get("steps") or {}
    job_steps = {s: r for s, r in steps.items() if r.get("type") in _JOB_STEPS and r.get("child")}
    if step is not None:
        if step not in job_steps:
            known = ", ".join(sorted(job_steps)) or "none"
            fail(f"execution {name} has no job step {step!r} (job steps: {known})")
        job_steps = {step: job_steps[step]}
    if not job_steps:
        fail(f"execution {name} has no job steps")
    collected: list[dict[str, str]] = []
    for step_name, record in sorted(job_steps.items(), key=lambda kv: int(kv[1]["index"])):
        pods = c.kube.list(
            kubeapi.PODS,
            c.namespace,
            label_selector=f"{labels.JOB_NAME}={record['child']}",
        )["items"]
        if not pods:
            click.echo(f"# {step_name}: job {record['child']} has no pods", err=True)
            continue
        for pod in pods:
            if output == "text" and (len(job_steps) > 1 or len(pods) > 1):
                click.echo(f"# {step_name}: pod {pod['metadata']['name']}")
            try:
                text = c.kube.pod_log(
                    c.namespace, pod["metadata"]["name"], container=container,
                    tail_lines=tail if tail >= 0 else None,
                )  # fmt: skip
            except kubeapi.ApiError as exc:
                fail(f"the logs of pod {pod['metadata']['name']} cannot be read: {exc.message}")
            if output == "text":  # on a terminal, escape sequences are shown, not obeyed
                click.echo(_render.clean(text) if sys.stdout.isatty() else text, nl=False)
            collected.append({"step": step_name, "job": record["child"],
                              "pod": pod["metadata"]["name"], "log": text})  # fmt: skip
    if output != "text":
        _render.dump(collected, output)
