"""``kontinue bench``: a load generator that reports throughput and latency percentiles.

Executions are created at ``--qps`` (never more than ``--max-concurrency`` unfinished at once)
for ``--duration``, labelled with the run's id; one watch on that label observes them finish.
Latency is measured on this machine's clock, from the create call to the watch event of the
terminal phase. API calls are throttled to ``--client-qps`` with bursts of ``--client-burst``.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import click

from kontinue.api import labels
from kontinue.api.durations import parse_duration
from kontinue.api.phases import execution_phase
from kontinue.cli import _render
from kontinue.cli._context import client, connection_options, fail, handles_errors
from kontinue.client import kubeapi
from kontinue.client.informer import DELETED, Informer

BENCH_LABEL = f"{labels.PREFIX}/bench"


class TokenBucket:
    """At most ``rate`` per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, max(1, burst)
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        """Wait for a token."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)


@dataclass
class Tally:
    """What the run saw."""

    created: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    phases: dict[str, int] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    lock: threading.Condition = field(default_factory=threading.Condition)

    def in_flight(self) -> int:
        """Created and not finished."""
        return len(self.created) - len(self.finished)


def _parameters(pairs: tuple[str, ...]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"-p expects key=value, got {pair!r}")
        try:
            arguments[key] = json.loads(value)
        except json.JSONDecodeError:
            arguments[key] = value
    return arguments


def _arguments(parameters: str | None, params: tuple[str, ...]) -> Any:
    """The executions' arguments: ``--parameters`` JSON, with ``-p key=value`` merged in."""
    base: Any = None
    if parameters is not None:
        try:
            base = json.loads(parameters)
        except json.JSONDecodeError as exc:
            fail(f"--parameters is not JSON: {exc.msg} at column {exc.colno}")
    pairs = _parameters(params)
    if not pairs:
        return base
    if base is not None and not isinstance(base, dict):
        fail("-p key=value needs --parameters to be a JSON object")
    return {**(base or {}), **pairs}


def _count_finished(tally: Tally, event: str, obj: dict[str, Any]) -> None:
    """An informer event: count the benchmark's executions as they reach a terminal phase."""
    phase = execution_phase(obj)
    name = obj["metadata"]["name"]
    if event == DELETED or not phase.terminal:
        return
    with tally.lock:
        if name in tally.finished or name not in tally.created:
            return
        tally.finished.add(name)
        tally.latencies.append(time.monotonic() - tally.created[name])
        tally.phases[phase.value] = tally.phases.get(phase.value, 0) + 1
        tally.lock.notify_all()


@click.command()
@click.argument("function")
@click.option(
    "--qps",
    type=click.FloatRange(min=0.01),
    default=10.0,
    show_default=True,
    help="Executions created per second.",
)
@click.option(
    "--max-concurrency",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Most unfinished executions at once.",
)
@click.option("--duration", default="30s", show_default=True, help="How long to create.")
@click.option(
    "--parameters", "parameters", metavar="JSON",
    help="The executions' arguments as JSON (e.g. '{\"n\": 3}').",
)  # fmt: skip
@click.option(
    "-p", "--param", "params", multiple=True,
    help="One argument key=value (JSON values), repeatable; merged into --parameters.",
)  # fmt: skip
@click.option(
    "--client-qps",
    type=click.FloatRange(min=0.1),
    default=100.0,
    show_default=True,
    help="API calls per second of this client.",
)
@click.option(
    "--client-burst",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="API call burst of this client.",
)
@click.option(
    "--wait-timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for the last executions after creating stops.",
)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
@connection_options
@handles_errors("bench")
def bench(
    function: str, qps: float, max_concurrency: int, duration: str, parameters: str | None,
    params: tuple[str, ...], client_qps: float, client_burst: int, wait_timeout: float,
    output: str,
) -> None:  # fmt: skip
    """Create executions of FUNCTION at a steady rate and report throughput and latency."""
    try:
        seconds = parse_duration(duration).total_seconds()
    except ValueError as exc:
        fail(f"--duration: {exc}")
    arguments = _arguments(parameters, params)
    run = uuid.uuid4().hex[:8]
    selector = f"{BENCH_LABEL}={run}"
    tally = Tally()
    c = client()  # built here: click's context does not reach other threads
    watcher: Informer[dict[str, Any]] = Informer(
        c.kube,
        kubeapi.EXECUTIONS,
        c.namespace,
        label_selector=selector,
        on_event=functools.partial(_count_finished, tally),
        name="bench-watch",
        watch_timeout=30,
    ).start()
    if not watcher.synced.wait(30):  # nothing is created before the watch's starting point
        fail("the watch on the benchmark's executions did not start")
    api, pace = TokenBucket(client_qps, client_burst), TokenBucket(qps, 1)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with tally.lock:
            while tally.in_flight() >= max_concurrency:
                tally.lock.wait(0.5)
        pace.take()
        api.take()
        # named and timed before the create: under load the watch may report it finished
        # before the create call returns
        name = f"bench-{run}-{len(tally.created) + 1}"
        with tally.lock:
            tally.created[name] = time.monotonic()
        try:
            c.create_execution(function, arguments, name=name, labels={BENCH_LABEL: run})
        except Exception:
            with tally.lock:
                del tally.created[name]
            raise
    creating = time.monotonic() - started
    deadline = time.monotonic() + wait_timeout
    with tally.lock:
        while tally.in_flight() and time.monotonic() < deadline:
            tally.lock.wait(0.5)
    watcher.stop()
    elapsed = time.monotonic() - started
    report = {
        "run": run,
        "function": function,
        "created": len(tally.created),
        "finished": len(tally.finished),
        "unfinished": tally.in_flight(),
        "phases": tally.phases,
        "create_seconds": round(creating, 2),
        "throughput_per_s": round(len(tally.finished) / elapsed, 2) if elapsed else 0.0,
        "latency_p50_ms": _ms(tally.latencies, 0.5),
        "latency_p90_ms": _ms(tally.latencies, 0.9),
        "latency_p99_ms": _ms(tally.latencies, 0.99),
        "latency_max_ms": _ms(tally.latencies, 1.0),
        "label": selector,
    }
    if output == "json":
        click.echo(json.dumps(report, indent=2))
        return
    _render.table(["FIGURE", "VALUE"], [[k, str(v)] for k, v in report.items()])


def _ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)
