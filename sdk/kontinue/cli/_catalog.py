"""Commands on what surrounds executions: functions, schedules, archives."""

from __future__ import annotations

from typing import Any

import click
from rich.tree import Tree

from kontinue.api import labels, worker_versions
from kontinue.cli import _render
from kontinue.cli._context import client, connection_options, fail, handles_errors
from kontinue.cli._steps import step_tree
from kontinue.client import kubeapi


@click.command()
@click.option("-o", "--output", type=click.Choice(_render.FORMATS), default="table")
@connection_options
@handles_errors("functions")
def functions(output: str) -> None:
    """List the functions workers registered."""
    c = client()
    items = sorted(
        c.kube.list(kubeapi.FUNCTIONS, c.namespace)["items"],
        key=lambda f: (f["spec"].get("workerGroup", ""), f["spec"]["name"]),
    )
    if _render.emitted(
        "Function", items, output, f"No functions registered in namespace {c.namespace}."
    ):
        return
    headers = ["NAME", "GROUP", "DESCRIPTION"]
    unfinished: dict[tuple[str, str, str], dict[str, int]] = {}
    if output == "wide":
        headers += ["LIMIT", "WORKERS", "VERSIONS", "UNFINISHED BY VERSION", "LAST SEEN"]
        unfinished = worker_versions.unfinished_by_version(
            c.kube.list(
                kubeapi.EXECUTIONS, c.namespace, field_selector=worker_versions.UNFINISHED_SELECTOR
            )["items"]
        )
    rows = []
    for item in items:
        spec, status = item["spec"], item.get("status") or {}
        group = spec.get("workerGroup", "default")
        row = [spec["name"], group, spec.get("description") or ""]
        if output == "wide":
            workers = status.get("workers") or []
            seen = status.get("lastSeen") or status.get("lastSeenAt")
            counts = unfinished.get((c.namespace, group, spec["name"]), {})
            row += [
                str(spec.get("concurrencyLimit") or ""),
                ", ".join(w if isinstance(w, str) else str(w.get("name")) for w in workers),
                _versions_text(item),
                worker_versions.describe_counts(counts) or "0",
                _render.age(seen) if seen else "",
            ]
        rows.append(row)
    _render.table(headers, rows)


def _versions_text(function: dict[str, Any]) -> str:
    """``v2 (2, upgrades v1), v1 (1, draining)``: the versions serving a function, by workers."""
    parts = []
    for version, workers in worker_versions.serving(function).items():
        upgrades = sorted({v for w in workers for v in w.get("upgradeFrom") or []})
        detail = f"{len(workers)}" + (f", upgrades {' '.join(upgrades)}" if upgrades else "")
        if all(w.get("drain") for w in workers):
            detail += ", draining"
        parts.append(f"{version} ({detail})")
    return ", ".join(parts)


@click.group(invoke_without_command=True)
@click.option("-o", "--output", type=click.Choice(_render.FORMATS), default="table")
@connection_options
@click.pass_context
@handles_errors("schedules")
def schedules(ctx: click.Context, output: str) -> None:
    """List ScheduledExecutions (or trigger, suspend, unsuspend one)."""
    if ctx.invoked_subcommand is not None:
        return
    c = client()
    items = sorted(
        c.kube.list(kubeapi.SCHEDULED_EXECUTIONS, c.namespace)["items"],
        key=lambda s: s["metadata"]["name"],
    )
    if _render.emitted(
        "ScheduledExecution", items, output, f"No schedules in namespace {c.namespace}."
    ):
        return
    rows = []
    for item in items:
        spec, status = item["spec"], item.get("status") or {}
        last = status.get("lastScheduleTime")
        rows.append([
            item["metadata"]["name"], spec["schedule"], spec.get("timeZone") or "UTC",
            spec["function"], "yes" if spec.get("suspend") else "no",
            str(len(status.get("active") or [])), _render.age(last) if last else "never",
            status.get("nextScheduleTime") or "", status.get("message") or "",
        ])  # fmt: skip
    _render.table(
        ["NAME", "SCHEDULE", "ZONE", "FUNCTION", "SUSPENDED", "ACTIVE", "LAST", "NEXT", "MESSAGE"],
        rows,
    )


@schedules.command()
@click.argument("name")
@connection_options
@handles_errors("trigger")
def trigger(name: str) -> None:
    """Run a schedule's function now (outside its cron slots)."""
    created = client().trigger_schedule(name)
    click.echo(f"execution.kontinue.cloud/{created['metadata']['name']} created")


def _set_suspend(name: str, value: bool) -> None:
    client().suspend_schedule(name, value)
    click.echo(f"scheduledexecution.kontinue.cloud/{name} {'suspended' if value else 'resumed'}")


@schedules.command()
@click.argument("name")
@connection_options
@handles_errors("suspend")
def suspend(name: str) -> None:
    """Stop a schedule from creating runs."""
    _set_suspend(name, True)


@schedules.command()
@click.argument("name")
@connection_options
@handles_errors("unsuspend")
def unsuspend(name: str) -> None:
    """Let a suspended schedule create runs again."""
    _set_suspend(name, False)


@click.group(invoke_without_command=True)
@click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace.")
@click.option("-o", "--output", type=click.Choice(_render.FORMATS), default="table")
@connection_options
@click.pass_context
@handles_errors("archives")
def archives(ctx: click.Context, all_namespaces: bool, output: str) -> None:
    """List ArchivedExecutions (or show one)."""
    if ctx.invoked_subcommand is not None:
        return
    items = client().list_archives(all_namespaces=all_namespaces)
    items.sort(
        key=lambda a: (a["spec"]["execution"].get("finishedAt") or "", a["metadata"]["name"])
    )
    if _render.emitted("ArchivedExecution", items, output, "No archived executions."):
        return
    rows = []
    for item in items:
        summary, counts = item["spec"]["execution"], item["spec"].get("counts") or {}
        row = [
            item["metadata"]["name"], summary.get("function", ""),
            _render.phase_text(summary.get("phase")), _render.age(summary.get("finishedAt")),
            str(counts.get("executions", 0)), item["spec"].get("deleteAt") or "never",
        ]  # fmt: skip
        if all_namespaces:
            row.insert(0, item["metadata"]["namespace"])
        rows.append(row)
    headers = ["NAME", "FUNCTION", "PHASE", "FINISHED", "EXECUTIONS", "DELETE AT"]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    _render.table(headers, rows)


@archives.command("show")
@click.argument("name")
@click.option("-o", "--output", type=click.Choice(["tree", "json", "yaml"]), default="tree")
@connection_options
@handles_errors("archive")
def show_archive(name: str, output: str) -> None:
    """Show an archived tree."""
    objects = client().archived_tree(name)
    if output in ("json", "yaml"):
        _render.dump(objects, output)
        return
    if not objects:
        fail(f"archive {name} is empty")
    by_parent: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        parent = (obj["metadata"].get("labels") or {}).get(labels.PARENT, "")
        by_parent.setdefault(parent, []).append(obj)

    def parts(execution: str) -> dict[str, list[dict[str, Any]]]:
        owned = by_parent.get(execution, [])
        return {
            "children": [o for o in owned if o.get("kind") == "Execution"],
            "suspensions": [o for o in owned if o.get("kind") == "Suspension"],
            "jobs": [o for o in owned if o.get("kind") == "Job"],
        }

    root = objects[0]
    tree = Tree(_render.plain(f"archive {name}", "bold"))
    tree.add(step_tree(root, parts(root["metadata"]["name"])))
    _render.console().print(tree)
