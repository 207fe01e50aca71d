"""The DBOS driver of ``make bench-peers`` (engines ``dbos-postgres`` and ``dbos-sqlite``).

``python hack/bench/peers/drivers/dbos.py --engine dbos-postgres|dbos-sqlite --workdir DIR``.

For ``dbos-postgres`` it runs Debian's PostgreSQL (``/usr/lib/postgresql/*/bin``) as an
unprivileged user in a temporary directory under DIR, on 127.0.0.1 and a free port, with
``fsync`` and ``synchronous_commit`` on; for ``dbos-sqlite`` the system database is a SQLite file
in DIR with SQLite's defaults (rollback journal, ``synchronous=FULL``). Then it starts the
worker (``dbos_flows.py`` beside this file), which runs DBOS Transact in-process, talks to it
over loopback HTTP, and answers the orchestrator through ``protocol.serve``. See ``DBOS.md``.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import http.client
import importlib.metadata
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # hack/bench, home of the peers package

from peers.protocol import serve  # noqa: E402

FLOWS = HERE / "dbos_flows.py"
SQLITE_POLL = 0.01
"""SQLite has no LISTEN/NOTIFY: DBOS polls for messages and events, this often."""
START_TIMEOUT = 120.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the worker, before exec: have Linux SIGKILL it if the driver dies first."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM into SystemExit, so the worker and PostgreSQL are stopped on the way out."""
    raise SystemExit(128 + signum)


class Postgres:
    """A throwaway PostgreSQL server run by an unprivileged user in a directory of its own."""

    def __init__(self, workdir: Path) -> None:
        """Initialize the cluster and start the server.

        Args:
            workdir: The driver's work directory; the cluster lives in a new directory in it.
        """
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
        if not bins:
            raise RuntimeError(
                "no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)"
            )
        self.bin = Path(bins[-1])
        self.major = self.bin.parent.name
        self.user = "nobody"
        owner = pwd.getpwnam(self.user)
        self.root = Path(tempfile.mkdtemp(prefix="dbos-pg-", dir=workdir))
        os.chmod(self.root, 0o755)
        os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.port = free_port()
        self._as_user(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "max_connections": "200",
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("".join(f"{key} = {value}\n" for key, value in settings.items()))
        self._as_user("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/dbos_bench"

    def _as_user(self, program: str, *args: str) -> None:
        command = ["runuser", "-u", self.user, "--", str(self.bin / program), *args]
        if os.geteuid() != 0:
            command = command[4:]
        subprocess.run(command, check=True, cwd=self.root, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        try:
            self._as_user("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class Worker:
    """The DBOS application process, reached over loopback HTTP."""

    def __init__(self, url: str, workdir: Path, poll: float | None) -> None:
        """Start the worker and wait until DBOS is launched and serving.

        Args:
            url: The DBOS system database URL.
            workdir: Where the port file and the worker's log go.
            poll: DBOS's notification polling interval, or None for its default.
        """
        self.port_file = workdir / f"worker-{uuid.uuid4().hex[:8]}.port"
        command = [sys.executable, str(FLOWS), "--url", url, "--port-file", str(self.port_file)]
        if poll is not None:
            command += ["--poll", str(poll)]
        with open(workdir / "worker.log", "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.port_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the DBOS worker exited ({self.process.returncode}), see log")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("the DBOS worker did not start in time")
            time.sleep(0.01)
        self.port = int(self.port_file.read_text())

    def call(self, op: str, timeout: float = 600.0, **fields: Any) -> Any:
        """Send one request to the worker and return its result.

        Args:
            op: The operation (see ``dbos_flows``).
            timeout: Seconds to wait for the answer.
            **fields: The operation's fields.

        Returns:
            The operation's result.
        """
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            body = json.dumps({"op": op, **fields})
            connection.request("POST", "/", body, {"Content-Type": "application/json"})
            answer = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        if "error" in answer:
            raise RuntimeError(f"worker: {answer['error']}")
        return answer["result"]

    def kill(self) -> None:
        """SIGKILL the worker and reap it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.port_file.unlink(missing_ok=True)


class Driver:
    """The six workloads, run against one DBOS worker."""

    def __init__(self, url: str, workdir: Path, poll: float | None) -> None:
        """Start the first worker.

        Args:
            url: The DBOS system database URL.
            workdir: The driver's work directory.
            poll: DBOS's notification polling interval, or None for its default.
        """
        self.url, self.workdir, self.poll = url, workdir, poll
        self.worker = Worker(url, workdir, poll)

    def close(self) -> None:
        """Stop the worker."""
        self.worker.kill()

    def _sequential(self, workflow: str, n: int) -> Mapping[str, Any]:
        latency = []
        for _ in range(int(n)):
            start = time.perf_counter()
            self.worker.call("run", workflow=workflow)
            latency.append(time.perf_counter() - start)
        return {"samples": {"latency": latency}}

    def one_step(self, n: int) -> Mapping[str, Any]:
        """``n`` one-step workflows, one after another."""
        return self._sequential("one_step", n)

    def ten_steps(self, n: int) -> Mapping[str, Any]:
        """``n`` ten-step workflows, one after another."""
        return self._sequential("ten_steps", n)

    def burst(self, count: int) -> Mapping[str, Any]:
        """``count`` one-step workflows started at once, each waited for by its own thread."""

        def one() -> tuple[float, float]:
            start = time.perf_counter()
            self.worker.call("run", workflow="one_step")
            return start, time.perf_counter()

        with ThreadPoolExecutor(max_workers=int(count)) as pool:
            times = list(pool.map(lambda _: one(), range(int(count))))
        wall = max(end for _, end in times) - min(start for start, _ in times)
        return {"figures": {"wall": wall}, "samples": {"latency": [e - s for s, e in times]}}

    def fan_out(self, children: int) -> Mapping[str, Any]:
        """One workflow starting ``children`` child workflows and waiting for all."""
        start = time.perf_counter()
        done = self.worker.call("run", workflow="fan_out", args=[int(children)])
        wall = time.perf_counter() - start
        if done != int(children):
            raise RuntimeError(f"{done} of {children} children finished")
        return {"figures": {"wall": wall}}

    def timers(self, count: int, delay: float) -> Mapping[str, Any]:
        """``count`` workflows on a durable ``delay`` timer, each approved once it fired."""

        def one() -> tuple[float, float]:
            workflow_id = self.worker.call("start", workflow="timer", args=[float(delay)])
            fired = self.worker.call("event", id=workflow_id, key="fired", timeout=delay + 60)
            if fired is None:
                raise RuntimeError(f"timer of {workflow_id} did not fire")
            sent = time.time()
            self.worker.call("send", id=workflow_id, topic="approval", message="approved")
            result = self.worker.call("result", id=workflow_id)
            due = self.worker.call("sleep_due", id=workflow_id)
            return result["fired"] - due, result["resumed"] - sent

        with ThreadPoolExecutor(max_workers=int(count)) as pool:
            pairs = list(pool.map(lambda _: one(), range(int(count))))
        return {
            "samples": {
                "lateness": [late for late, _ in pairs],
                "signal_to_resume": [resume for _, resume in pairs],
            }
        }

    def recovery(self, count: int) -> Mapping[str, Any]:
        """A burst of ledger workflows; SIGKILL the worker after a third, recover in a new one."""
        count = int(count)
        ledger = self.workdir / f"ledger-{uuid.uuid4().hex[:8]}.txt"
        ledger.touch()
        with ThreadPoolExecutor(max_workers=min(count, 64)) as pool:
            ids = list(
                pool.map(
                    lambda _: self.worker.call("start", workflow="ledger_step", args=[str(ledger)]),
                    range(count),
                )
            )
        deadline = time.monotonic() + START_TIMEOUT
        while len(ledger.read_text().splitlines()) < count / 3:
            if time.monotonic() > deadline:
                raise RuntimeError("a third of the ledger steps did not run in time")
            time.sleep(0.0005)
        killed = time.perf_counter()
        self.worker.kill()
        self.worker = Worker(self.url, self.workdir, self.poll)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            statuses = self.worker.call("statuses", ids=ids)
            if all(statuses.get(i) not in (None, "PENDING", "ENQUEUED") for i in ids):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the workflows were not recovered in time")
            time.sleep(0.01)
        recovered = time.perf_counter() - killed
        entries = ledger.read_text().split()
        return {
            "figures": {
                "recovery": recovered,
                "duplicated": len(entries) - len(set(entries)),
                "completed": sum(1 for i in ids if statuses.get(i) == "SUCCESS"),
            }
        }

    def workloads(self) -> dict[str, Callable[..., Mapping[str, Any]]]:
        """The workloads by protocol name."""
        return {
            "one_step": self.one_step,
            "ten_steps": self.ten_steps,
            "burst": self.burst,
            "fan_out": self.fan_out,
            "timers": self.timers,
            "recovery": self.recovery,
        }


def main() -> None:
    """Start the engine, serve the orchestrator until stdin closes, stop everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", required=True, choices=("dbos-postgres", "dbos-sqlite"))
    parser.add_argument("--workdir", required=True, type=Path)
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    workdir = options.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    version = importlib.metadata.version("dbos")
    postgres = None
    try:
        if options.engine == "dbos-postgres":
            postgres = Postgres(workdir)
            url, poll = postgres.url, None
            durability = (
                f"PostgreSQL {postgres.major}, fsync=on, synchronous_commit=on "
                "(WAL flushed on every commit)"
            )
        else:
            database = workdir / f"dbos-{uuid.uuid4().hex[:8]}.sqlite"
            url, poll = f"sqlite:///{database}", SQLITE_POLL
            durability = "SQLite file, rollback journal, synchronous=FULL (fsync on every commit)"
        driver = Driver(url, workdir, poll)
        try:
            serve(options.engine, version, durability, driver.workloads())
        finally:
            driver.close()
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
