"""``kontinue signal``: send a named event to a running execution; and what an execution awaits.

``kontinue show`` prints :func:`waiting_summary` under the step tree: the events and deadlines
a released execution waits for, and the events sent to it that no step consumed yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from kontinue.api.phases import SuspensionPhase, suspension_phase
from kontinue.cli import _render
from kontinue.cli._context import client, connection_options, fail, handles_errors, json_value
from kontinue.client import SignalRejected

_EVENT_STEPS = ("event", "first")


@click.command()
@click.argument("name")
@click.argument("event")
@click.option("--data", help="The event's JSON payload (what the waiting step returns).")
@click.option(
    "--id",
    "signal_id",
    help="An id for this event: sending again with the same id delivers it once.",
)
@click.option("-o", "--output", type=click.Choice(["name", "json", "yaml"]), default="name")
@connection_options
@handles_errors("signal")
def signal(name: str, event: str, data: str | None, signal_id: str | None, output: str) -> None:
    """Send EVENT to execution NAME (received by kontinue.wait_for_event or wait_first).

    Events are delivered once each, in the order they were accepted; one sent before the
    workflow waits for it is kept until it does.
    """
    payload = json_value(data, "--data")
    try:
        sent = client().signal(name, event, payload, id=signal_id)
    except SignalRejected as exc:
        fail(str(exc))
    if output != "name":
        _render.dump(sent.signal, output)
        return
    if sent.duplicate:
        click.echo(f"signal.kontinue.cloud/{sent.name} already sent (id {sent.id}): not sent again")
    else:
        click.echo(f"signal.kontinue.cloud/{sent.name} sent ({event} to {name})")


def consumed(execution: Mapping[str, Any]) -> set[str]:
    """The Signals the execution's recorded steps (in its status) consumed."""
    steps = (execution.get("status") or {}).get("steps") or {}
    return {
        str(s["child"])
        for s in steps.values()
        if isinstance(s, Mapping) and s.get("type") in _EVENT_STEPS and s.get("child")
    }


def waiting_summary(
    execution: Mapping[str, Any],
    signals: Sequence[Mapping[str, Any]],
    suspensions: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Lines saying what the execution waits for (events, deadlines) and the buffered events.

    A signal counts as buffered when no step in the status consumed it (steps compacted into
    journal chunks are not read here).
    """
    lines: list[str] = []
    status = execution.get("status") or {}
    for item in status.get("suspendedOn") or []:
        if item.get("kind") == "Signal":
            lines.append(f"waits for event {item['name']!r}")
    for suspension in suspensions:
        spec = suspension.get("spec") or {}
        if suspension_phase(suspension) != SuspensionPhase.SUSPENDED or not spec.get("resumeAt"):
            continue
        if spec.get("timeout"):
            label = spec.get("displayName") or spec.get("step")
            lines.append(f"approval {label!r} times out at {spec['resumeAt']}")
        elif str(spec.get("displayName") or "").startswith("deadline of "):
            lines.append(f"{spec['displayName']} at {spec['resumeAt']}")
    used = consumed(execution)
    buffered = [s for s in signals if s["metadata"]["name"] not in used]
    for sent in buffered:
        spec = sent.get("spec") or {}
        lines.append(
            f"buffered event {spec.get('event')!r} (id {spec.get('id')}, "
            f"sent {sent['metadata'].get('creationTimestamp')})"
        )
    return lines
