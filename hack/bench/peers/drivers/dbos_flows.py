# The repository's type check runs without the peers' packages: dbos is unknown there.
# mypy: disable-error-code="import-not-found, untyped-decorator, no-any-return"
"""The DBOS worker of ``make bench-peers``: the benchmark's workflows and a small HTTP front.

DBOS Transact is a library: workflows run inside the application process, which also starts
them (an application's request handlers call ``DBOS.start_workflow``). This module is such an
application. It launches DBOS on the system database given by ``--url``, registers the
workflows below and serves JSON requests on 127.0.0.1 (a free port written to
``--port-file`` once DBOS is launched):

- ``{"op": "run", "workflow": W, "args": [...]}``: start W, wait for its result, return it.
- ``{"op": "start", "workflow": W, "args": [...]}``: start W, return its workflow id.
- ``{"op": "result", "id": ID}``: wait for a workflow's result.
- ``{"op": "event", "id": ID, "key": K, "timeout": S}``: ``DBOS.get_event``.
- ``{"op": "send", "id": ID, "topic": T, "message": M}``: ``DBOS.send``.
- ``{"op": "sleep_due", "id": ID}``: the wake time checkpointed by the workflow's DBOS.sleep.
- ``{"op": "statuses", "ids": [...]}``: the workflows' statuses (``DBOS.list_workflows``).

Run as ``python dbos_flows.py --url URL --port-file PATH [--poll SECONDS]``; the driver
(``dbos.py`` beside this file) starts it, SIGKILLs it in the recovery workload and starts a new
one, whose ``DBOS.launch()`` recovers the workflows left pending.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The driver beside this file is named dbos.py: keep it from shadowing the dbos package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from dbos import DBOS, DBOSConfig  # noqa: E402

RESULT_POLL = 0.01
"""How often a wait on a workflow this process did not start (after recovery) polls."""


@DBOS.step()
def step(index: int) -> int:
    """One step: no work beyond DBOS checkpointing its output."""
    return index


@DBOS.step()
def stamp() -> float:
    """A step returning the wall-clock time at which it ran."""
    return time.time()


@DBOS.step()
def append_to_ledger(ledger: str) -> None:
    """Append this workflow's id to the ledger file (one line per execution of the step)."""
    with open(ledger, "a", encoding="utf-8") as out:
        out.write(f"{DBOS.workflow_id}\n")


@DBOS.workflow()
def one_step() -> int:
    """A workflow of one step."""
    return step(0)


@DBOS.workflow()
def ten_steps() -> int:
    """A workflow of ten sequential steps."""
    total = 0
    for index in range(10):
        total += step(index)
    return total


@DBOS.workflow()
def fan_out(children: int) -> int:
    """Start ``children`` child workflows (one step each) and wait for all of them."""
    handles = [DBOS.start_workflow(one_step) for _ in range(children)]
    return sum(1 for handle in handles if handle.get_result() == 0)


@DBOS.workflow()
def timer(delay: float) -> dict[str, float]:
    """Sleep ``delay`` durably, then wait for the approval message.

    Returns ``fired`` (the workflow code resumed after the sleep) and ``resumed`` (the step
    after the approval ran); the due time is the wake time DBOS checkpointed for the sleep
    (``sleep_due``). ``fired`` is not checkpointed: a replay would read the clock again, which
    the timers workload never causes.
    """
    DBOS.sleep(delay)
    fired = time.time()
    DBOS.set_event("fired", fired)
    approval = DBOS.recv("approval", timeout_seconds=max(60.0, 10 * delay))
    if approval is None:
        raise RuntimeError("no approval before the timeout")
    resumed = stamp()
    return {"fired": fired, "resumed": resumed}


@DBOS.workflow()
def ledger_step(ledger: str) -> str:
    """A one-step workflow whose step appends the workflow id to ``ledger``."""
    append_to_ledger(ledger)
    return DBOS.workflow_id or ""


WORKFLOWS = {
    "one_step": one_step,
    "ten_steps": ten_steps,
    "fan_out": fan_out,
    "timer": timer,
    "ledger_step": ledger_step,
}


def handle(request: dict[str, Any]) -> Any:
    """Carry out one request of the driver.

    Args:
        request: The decoded JSON request, with its ``op`` and that operation's fields.

    Returns:
        The JSON-serializable answer.
    """
    op = request["op"]
    if op in ("run", "start"):
        started = DBOS.start_workflow(WORKFLOWS[request["workflow"]], *request.get("args", []))
        if op == "start":
            return started.get_workflow_id()
        return started.get_result()
    if op == "result":
        return DBOS.retrieve_workflow(request["id"]).get_result(polling_interval_sec=RESULT_POLL)
    if op == "event":
        return DBOS.get_event(request["id"], request["key"], request.get("timeout", 60))
    if op == "send":
        DBOS.send(request["id"], request["message"], request["topic"])
        return None
    if op == "sleep_due":
        steps = DBOS.list_workflow_steps(request["id"])
        return next(s["output"] for s in steps if s["function_name"] == "DBOS.sleep")
    if op == "statuses":
        found = DBOS.list_workflows(workflow_ids=request["ids"], load_input=False)
        return {status.workflow_id: status.status for status in found}
    raise ValueError(f"unknown op {op!r}")


class Handler(BaseHTTPRequestHandler):
    """POST a JSON request, get ``{"result": ...}`` or ``{"error": ...}`` back."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        """Answer one request."""
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            answer = {"result": handle(json.loads(body))}
            code = 200
        except Exception as exc:  # noqa: BLE001 - sent back to the driver
            answer, code = {"error": f"{type(exc).__name__}: {exc}"}, 500
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Keep the access log quiet."""


class Server(ThreadingHTTPServer):
    """A threading HTTP server whose listen backlog takes a whole burst of connections."""

    request_queue_size = 4096
    daemon_threads = True


def main() -> None:
    """Launch DBOS and serve the driver's requests until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="DBOS system database URL")
    parser.add_argument("--port-file", required=True, type=Path)
    parser.add_argument(
        "--poll",
        type=float,
        default=None,
        help="notification polling interval in seconds (SQLite has no LISTEN/NOTIFY)",
    )
    options = parser.parse_args()
    config: DBOSConfig = {
        "name": "kontinue-bench",
        "system_database_url": options.url,
        "log_level": "WARNING",
        "executor_id": "bench-worker",
    }
    if options.poll is not None:
        config["notification_listener_polling_interval_sec"] = options.poll
    DBOS(config=config)
    DBOS.launch()
    server = Server(("127.0.0.1", 0), Handler)
    partial = options.port_file.with_suffix(".tmp")
    partial.write_text(str(server.server_address[1]))
    os.replace(partial, options.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
