"""How the commands show one execution: its tree of steps and its outcome.

``show`` and ``archives show`` print the tree, ``execute --follow`` redraws it live, ``execute
--wait`` and ``--follow`` end with the outcome line and exit with its code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click
from rich.text import Text
from rich.tree import Tree

from kontinue.api import parent_close, workflow_labels
from kontinue.api.phases import Phase, execution_phase, job_end, suspension_phase
from kontinue.cli import _render
from kontinue.cli._context import client

EXIT_FAILED = 1
EXIT_CANCELED = 3


def outcome_exit(execution: Mapping[str, Any]) -> int:
    """The exit code of a finished execution: 0 completed, 1 failed, 3 canceled or skipped."""
    phase = execution_phase(dict(execution))
    return {Phase.COMPLETED: 0, Phase.FAILED: EXIT_FAILED}.get(phase, EXIT_CANCELED)


def print_outcome(execution: Mapping[str, Any]) -> None:
    """One line for the phase, then the result (JSON) or the error."""
    status = execution.get("status") or {}
    name = execution["metadata"]["name"]
    _render.console().print(
        Text.assemble(_render.plain(name), " ", _render.phase_text(status.get("phase")))
    )
    if status.get("phase") == Phase.COMPLETED:
        click.echo(json.dumps(status.get("result"), indent=2))
    elif status.get("error"):
        error = status["error"]
        message = f"error ({error.get('kind')}): {error.get('message')}"
        click.echo(_render.clean(message), err=True)
    elif status.get("message"):
        click.echo(_render.clean(status["message"]), err=True)


def progress_text(status: Mapping[str, Any]) -> str:
    """An execution's progress as ``current/max`` (or ``current``); empty without one."""
    progress = status.get("progress") or {}
    if "current" not in progress:
        return ""
    return (
        f"{progress['current']}/{progress['max']}"
        if progress.get("max")
        else str(progress["current"])
    )


def related(name: str) -> dict[str, list[dict[str, Any]]]:
    """The children, suspensions and jobs of an execution."""
    return client().related(name)


def _job_phase(job: Mapping[str, Any]) -> str:
    end = job_end(job)
    if end is not None:
        return str(end["type"])
    return "Suspended" if (job.get("spec") or {}).get("suspend") else "Running"


def step_tree(execution: Mapping[str, Any], parts: Mapping[str, list[dict[str, Any]]]) -> Tree:
    """A rich tree of an execution: steps with durations, children, suspensions, jobs.

    Every piece of text from the cluster goes in as plain text (never markup).
    """
    plain, phase_text = _render.plain, _render.phase_text
    status = execution.get("status") or {}
    meta = execution["metadata"]
    head = Text.assemble(
        plain(meta["name"], "bold"), " ", phase_text(status.get("phase")), " ",
        plain(execution["spec"].get("function", "")),
    )  # fmt: skip
    if status.get("startedAt"):
        head.append(f"  {_render.span(status.get('startedAt'), status.get('finishedAt'))}")
    tree = Tree(head)
    details = []
    if status.get("workerName"):
        details.append(f"worker {status['workerName']}")
    if status.get("attempt") and int(status["attempt"]) > 1:
        details.append(f"attempt {status['attempt']}")
    if status.get("resumptions"):
        details.append(f"{status['resumptions']} resumptions")
    if progress := progress_text(status):
        details.append(f"progress {progress}")
    if details:
        tree.add(plain(", ".join(details)))
    if status.get("message"):
        tree.add(plain(f"message: {status['message']}"))
    if own_labels := workflow_labels.of(execution):
        tree.add(plain("labels: " + ", ".join(f"{k}={v}" for k, v in sorted(own_labels.items()))))
    if (execution.get("spec") or {}).get("parent"):
        tree.add(plain(f"on parent close: {parent_close.of(execution)}", "dim"))
    children = {c["metadata"]["name"]: c for c in parts["children"]}
    suspensions = {s["metadata"]["name"]: s for s in parts["suspensions"]}
    jobs = {j["metadata"]["name"]: j for j in parts["jobs"]}
    steps = sorted((status.get("steps") or {}).items(), key=lambda kv: int(kv[1].get("index", 0)))
    if steps:
        node = tree.add("steps")
        for step, record in steps:
            label = Text.assemble(
                plain(record.get("displayName") or step), " ",
                plain(record.get("type"), "dim"), " ",
                phase_text(record.get("phase", "Completed")),
            )  # fmt: skip
            duration = _render.span(record.get("startedAt"), record.get("finishedAt"))
            if duration:
                label.append(f" {duration}")
            child = record.get("child")
            if child in children:
                child_status = children[child].get("status") or {}
                label.append_text(
                    Text.assemble(f" -> {_render.clean(child)} ",
                                  phase_text(child_status.get("phase")))
                )  # fmt: skip
                label.append(f" (on parent close: {parent_close.of(children[child])})", "dim")
            elif child in suspensions:
                label.append_text(Text.assemble(" -> ", _suspension_label(suspensions[child])))
            elif child in jobs:
                label.append(f" -> job {_render.clean(child)} {_job_phase(jobs[child])}")
            node.add(label)
    listed = status.get("attempts") or []
    for attempt_no, attempt in enumerate(listed, start=1):
        if len(listed) == 1 and attempt.get("phase") in (Phase.EXECUTING, Phase.COMPLETED):
            break  # a single attempt that ran or runs fine says nothing the header does not
        line = Text(f"attempt {attempt_no} ")
        line.append_text(_render.phase_text(attempt.get("phase")))
        if attempt.get("message"):
            line.append_text(plain(f": {attempt['message']}"))
        tree.add(line)
    if status.get("phase") == Phase.COMPLETED:
        tree.add(plain(f"result: {json.dumps(status.get('result'))}"))
    elif status.get("error"):
        error = status["error"]
        tree.add(plain(f"error ({error.get('kind')}): {error.get('message')}", "red"))
    return tree


def _suspension_label(suspension: Mapping[str, Any]) -> Text:
    phase = suspension_phase(suspension)
    resume_at = (suspension.get("spec") or {}).get("resumeAt")
    kind = f"sleep until {resume_at}" if resume_at else "suspension"
    return Text.assemble(
        _render.plain(f"{kind} {suspension['metadata']['name']} "), _render.phase_text(phase)
    )
