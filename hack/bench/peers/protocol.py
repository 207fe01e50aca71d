"""How ``make bench-peers`` talks to one engine: a driver process, JSON lines both ways.

Every engine (kontinue and each peer) has a driver: a program the orchestrator starts once per
run, which starts the engine's server(s) and worker(s) on loopback in its own work directory,
runs the workloads it is asked for, and stops everything when its stdin closes. Drivers of the
peers run in the peers' own virtual environment (their SDKs never enter kontinue's); the
kontinue driver runs in the repository's ``.venv``.

The conversation, one JSON object per line:

1. driver -> ``{"ready": true, "engine": NAME, "version": "...", "durability": "..."}`` once its
   engine is up (``durability`` says how commits reach the disk: "etcd, fsync on every commit").
2. orchestrator -> ``{"workload": W, "params": {...}}``; driver -> ``{"ok": true, "figures":
   {...}, "samples": {...}}`` or ``{"ok": false, "error": "..."}``. Repeated; the orchestrator
   interleaves the engines' repetitions (round 1 of every engine, then round 2, ...).
3. orchestrator closes stdin; the driver stops its processes and exits 0.

Workloads (times in seconds; a sample list holds one value per workflow):

- ``one_step`` ``{n}``: ``n`` one-step workflows run one after another; samples ``latency``
  (start request -> result received).
- ``ten_steps`` ``{n}``: the same with ten sequential steps; samples ``latency``. The
  orchestrator derives the cost of one extra step: (p50 ten - p50 one) / 9.
- ``burst`` ``{count}``: ``count`` one-step workflows started at once; figures ``wall``
  (first start -> last result), samples ``latency``.
- ``fan_out`` ``{children}``: one workflow starting ``children`` child workflows (one step
  each) and waiting for all; figures ``wall``.
- ``timers`` ``{count, delay}``: ``count`` workflows each waiting on a durable ``delay`` timer,
  then on an external signal (an approval); the driver signals each as soon as it waits;
  samples ``lateness`` (timer fired - due) and ``signal_to_resume`` (signal sent -> the
  workflow's next step ran).
- ``recovery`` ``{count}``: a burst of ``count`` one-step workflows whose step appends its
  workflow id to a ledger; the worker is SIGKILLed when about a third finished and a new one
  started; figures ``recovery`` (kill -> last result), ``duplicated`` (ledger entries beyond
  one per workflow), ``completed`` (should equal ``count``).

Engines (driver names): ``kontinue``, ``temporal-local-activity``, ``temporal-activity``,
``dbos-postgres``, ``dbos-sqlite``, ``restate``. Every engine runs with its production
durability: kontinue's etcd and PostgreSQL fsync, Temporal's dev server on a SQLite file (not
in memory), Restate's server on its own disk store.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

WORKLOADS = ("one_step", "ten_steps", "burst", "fan_out", "timers", "recovery")
ENGINES = (
    "kontinue",
    "temporal-local-activity",
    "temporal-activity",
    "dbos-postgres",
    "dbos-sqlite",
    "restate",
)

Workload = Callable[..., Mapping[str, Any]]
"""A driver's implementation of one workload: keyword params -> {"figures": ..., "samples": ...}."""


def serve(
    engine: str,
    version: str,
    durability: str,
    workloads: Mapping[str, Workload],
    *,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> None:
    """The driver side: announce readiness, answer requests until stdin closes.

    The engine is up when this is called; the caller stops it when this returns. A workload
    that raises answers ``{"ok": false}`` with the error and the driver goes on.
    """

    def say(message: Mapping[str, Any]) -> None:
        stdout.write(json.dumps(message) + "\n")
        stdout.flush()

    say({"ready": True, "engine": engine, "version": version, "durability": durability})
    for line in stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        name = request.get("workload")
        run = workloads.get(name)
        if run is None:
            say({"ok": False, "error": f"unknown workload {name!r}"})
            continue
        try:
            answer = run(**(request.get("params") or {}))
        except Exception as exc:  # noqa: BLE001 - reported to the orchestrator, which goes on
            say({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            continue
        figures, samples = answer.get("figures", {}), answer.get("samples", {})
        say({"ok": True, "figures": figures, "samples": samples})
