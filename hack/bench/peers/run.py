"""``make bench-peers``: kontinue against Temporal, DBOS and Restate, in one run on this machine.

Installs what the peers need when it is missing (their packages from the hashed lock
``requirements.txt`` beside this file into a virtual environment cached under
``~/.cache/kontinue/bench-peers/<hash of the lock>/``, the Restate server from npm into the same
directory, PostgreSQL from Debian's package), starts one driver per engine (see
:mod:`peers.protocol`), runs every workload on every engine in interleaved rounds (round 1 of
every engine, then round 2, ...; the engines' order rotates each round) and prints the figures:
a table here, ``hack/bench/results/peers.json`` and the chart ``hack/bench/results/peers.png``.

An engine whose prerequisites cannot be had, or whose driver is not in this checkout, is
reported as missing in the table and the JSON, never left out. docs/benchmarks.md says what each
workload is per engine and how to read the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import platform
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # hack/bench: apimetrics, peers.protocol

from apimetrics import pct  # noqa: E402
from peers.protocol import ENGINES, WORKLOADS  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

ROOT = HERE.parents[2]
DRIVERS = HERE / "drivers"
LOCK = HERE / "requirements.txt"
RESULTS = ROOT / "hack" / "bench" / "results"
CACHE = Path.home() / ".cache" / "kontinue" / "bench-peers"
RESTATE_SERVER = "@restatedev/restate-server@1.7.12"
"""The Restate server, from npm (the package carries the native binary)."""

DRIVER_FILES = {
    "kontinue": "kontinue_driver.py",
    "temporal-local-activity": "temporal.py",
    "temporal-activity": "temporal.py",
    "dbos-postgres": "dbos.py",
    "dbos-sqlite": "dbos.py",
    "restate": "restate.py",
}

SIZES = {
    "one_step": {"n": 50},
    "ten_steps": {"n": 20},
    "burst": {"count": 200},
    "fan_out": {"children": 50},
    "timers": {"count": 50, "delay": 5},
    "recovery": {"count": 100},
}
QUICK_SIZES = {
    "one_step": {"n": 15},
    "ten_steps": {"n": 5},
    "burst": {"count": 40},
    "fan_out": {"children": 20},
    "timers": {"count": 10, "delay": 2},
    "recovery": {"count": 30},
}
ROUNDS, QUICK_ROUNDS = 3, 2
START_TIMEOUT = 300.0
"""Seconds a driver may take to install nothing and start its engine."""
REQUEST_TIMEOUT = 600.0
"""Seconds one workload may take on one engine."""


@dataclass(frozen=True)
class Figure:
    """One figure of the comparison."""

    key: str
    label: str
    unit: str
    better: str  # "lower" or "higher"


FIGURES = (
    Figure("one_step_p50_ms", "1-step workflow p50", "ms", "lower"),
    Figure("one_step_p99_ms", "1-step workflow p99", "ms", "lower"),
    Figure("extra_step_ms", "each extra sequential step", "ms", "lower"),
    Figure("burst_per_s", "burst throughput", "workflows/s", "higher"),
    Figure("burst_p99_ms", "burst latency p99", "ms", "lower"),
    Figure("fan_out_s", "fan-out completion", "s", "lower"),
    Figure("timer_lateness_p50_ms", "timer lateness p50", "ms", "lower"),
    Figure("timer_lateness_p99_ms", "timer lateness p99", "ms", "lower"),
    Figure("signal_to_resume_p99_ms", "signal to resume p99", "ms", "lower"),
    Figure("recovery_s", "recovery after SIGKILL", "s", "lower"),
    Figure("duplicated", "duplicated step runs", "runs", "lower"),
    Figure("lost", "workflows not completed after SIGKILL", "workflows", "lower"),
    Figure("api_writes_per_workflow", "API writes per 1-step workflow", "writes", "lower"),
    Figure("etcd_bytes_per_workflow", "etcd WAL bytes per 1-step workflow", "bytes", "lower"),
)


# -- prerequisites --------------------------------------------------------------------------------


def say(console: Console, text: str) -> None:
    """A progress line."""
    console.print(f"[dim]{datetime.now(UTC):%H:%M:%S}[/dim] {text}")


def cache_dir() -> Path:
    """The cache directory of this lock (its hash names it)."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    return CACHE / digest


def peers_venv(console: Console) -> tuple[Path | None, str]:
    """The peers' Python (created and installed from the hashed lock when missing), or why not."""
    where = cache_dir()
    python = where / "venv" / "bin" / "python"
    stamp = where / "venv.installed"
    if stamp.exists() and python.exists():
        return python, ""
    say(console, f"creating the peers' virtual environment in {where / 'venv'}")
    where.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(where / "venv", ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True)
        uv = Path(sys.executable).parent / "uv"
        if uv.exists():
            install = [str(uv), "pip", "install", "--python", str(python)]
        else:
            install = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*install, "--require-hashes", "-r", str(LOCK)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"cannot install the peers' packages ({LOCK.relative_to(ROOT)}): {exc}"
    stamp.write_text(LOCK.read_text())
    return python, ""


def restate_server(console: Console) -> tuple[Path | None, str]:
    """The npm prefix holding the pinned Restate server (installed when missing), or why not."""
    prefix = cache_dir() / "restate"
    stamp = prefix / "installed"
    if stamp.exists() and stamp.read_text() == RESTATE_SERVER:
        return prefix, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, f"npm not found: install Node.js and npm to get {RESTATE_SERVER}"
    say(console, f"installing {RESTATE_SERVER} into {prefix}")
    prefix.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", RESTATE_SERVER],
        capture_output=True,
        text=True,
    )
    native = glob.glob(str(prefix / "node_modules/@restatedev/restate-server-*/bin/restate-server"))
    if result.returncode != 0 or not native:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return None, f"npm install {RESTATE_SERVER} failed: {' '.join(tail) or 'no native binary'}"
    stamp.write_text(RESTATE_SERVER)
    return prefix, ""


def postgres_bin() -> list[str]:
    """Directories of PostgreSQL's server programs (initdb and pg_ctl), newest last."""
    found = [
        d
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if os.access(Path(d) / "initdb", os.X_OK) and os.access(Path(d) / "pg_ctl", os.X_OK)
    ]
    return sorted(found, key=lambda d: int(Path(d).parent.name.split(".")[0]))


def postgres(console: Console) -> str:
    """'' when PostgreSQL's server programs are here (apt-get installs them as root), else why."""
    if postgres_bin():
        return ""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return (
            "no PostgreSQL server programs: install Debian's package (apt-get install postgresql)"
        )
    say(console, "installing PostgreSQL (apt-get install postgresql)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    result = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "postgresql"], env=env, capture_output=True, text=True
    )
    if postgres_bin():
        return ""
    tail = " ".join((result.stderr or result.stdout).strip().splitlines()[-2:])
    return f"apt-get install postgresql failed: {tail}"


@dataclass
class Plan:
    """What each engine runs with, or why it cannot run."""

    commands: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    python: Path | None = None
    """The peers' Python (it draws the chart too), None when it cannot be had."""


def plan(engines: Sequence[str], console: Console) -> Plan:
    """Install what the chosen engines need; the command of each, or why it is missing."""
    result = Plan()
    peers = [e for e in engines if e != "kontinue"]
    for engine in engines:
        if not (DRIVERS / DRIVER_FILES[engine]).exists():
            path = f"hack/bench/peers/drivers/{DRIVER_FILES[engine]}"
            result.missing[engine] = f"no driver: {path} is not in this checkout"
    python, why = peers_venv(console)  # the chart needs it too
    result.python = python
    if python is None:
        for engine in peers:
            result.missing.setdefault(engine, why)
    if "restate" in engines and "restate" not in result.missing:
        prefix, why = restate_server(console)
        if prefix is None:
            result.missing["restate"] = why
        else:
            result.env["BENCH_RESTATE_NPM"] = str(prefix)
    if "dbos-postgres" in engines and "dbos-postgres" not in result.missing:
        why = postgres(console)
        if why:
            result.missing["dbos-postgres"] = why
    for engine in engines:
        if engine in result.missing:
            continue
        interpreter = sys.executable if engine == "kontinue" else str(python)
        result.commands[engine] = [interpreter, str(DRIVERS / DRIVER_FILES[engine])]
    return result


# -- drivers ------------------------------------------------------------------------------------


class DriverFailed(RuntimeError):
    """The driver died, or did not answer in time."""


class Driver:
    """One running driver process and its JSON-lines conversation."""

    def __init__(
        self, engine: str, command: list[str], workdir: Path, log: Path, env: Mapping[str, str]
    ) -> None:
        self.engine = engine
        self.log = log
        self.hello: dict[str, Any] = {}
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            [*command, "--engine", engine, "--workdir", str(workdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env={**os.environ, **env},
            text=True,
            bufsize=1,
            start_new_session=True,  # its process group: a hung driver is stopped whole
        )
        threading.Thread(target=self._read, daemon=True, name=f"read-{engine}").start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next JSON object the driver says (lines that are not JSON go to its log)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(0.0, left))
            except queue.Empty:
                raise DriverFailed(f"no answer in {timeout:.0f}s") from None
            if line is None:
                code = self.process.wait()
                raise DriverFailed(f"the driver exited {code}: {self.tail()}")
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                self._log_file.write(f"[stdout, not JSON] {line}".encode())
                self._log_file.flush()
                continue
            if isinstance(message, dict):
                return message

    def ready(self, timeout: float) -> None:
        """Wait for the driver's ready line."""
        message = self.receive(timeout)
        if not message.get("ready"):
            raise DriverFailed(f"expected the ready line, got {message}")
        self.hello = message

    def run(self, workload: str, params: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """One workload; the driver's answer."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"workload": workload, "params": params}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise DriverFailed(f"the driver is gone: {self.tail()}") from exc
        return self.receive(timeout)

    def tail(self, lines: int = 3) -> str:
        """The last lines of the driver's log."""
        self._log_file.flush()
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def close(self, grace: float = 60.0) -> None:
        """Close stdin (the driver stops its engine and exits); kill its group if it lingers."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()
        self._log_file.close()

    def kill(self) -> None:
        """SIGKILL the driver's process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


# -- figures ------------------------------------------------------------------------------------


def samples(answers: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    """Every round's samples of ``key``, pooled."""
    return [float(v) for a in answers for v in (a.get("samples") or {}).get(key) or []]


def figures_of(answers: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    """Every round's figure ``key``."""
    return [float(a["figures"][key]) for a in answers if key in (a.get("figures") or {})]


def median(values: Sequence[float]) -> float | None:
    """The median, None when there are no values."""
    return statistics.median(values) if values else None


def ms(value: float | None) -> float | None:
    """Seconds as milliseconds."""
    return None if value is None else value * 1000


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile, None when there are no values."""
    return pct(values, q) if values else None


def summarize(
    runs: Mapping[str, list[Mapping[str, Any]]], sizes: Mapping[str, Mapping[str, Any]]
) -> dict[str, float | None]:
    """The comparison's figures of one engine from its answers, by workload."""
    one = samples(runs.get("one_step", []), "latency")
    ten = samples(runs.get("ten_steps", []), "latency")
    burst = runs.get("burst", [])
    count = float(sizes["burst"]["count"])
    rates = [count / w for w in figures_of(burst, "wall") if w > 0]
    timers = runs.get("timers", [])
    recovery = runs.get("recovery", [])
    one_p50 = quantile(one, 0.5)
    ten_p50 = quantile(ten, 0.5)
    duplicated = figures_of(recovery, "duplicated")
    out: dict[str, float | None] = {
        "one_step_p50_ms": ms(one_p50),
        "one_step_p99_ms": ms(quantile(one, 0.99)),
        "extra_step_ms": ms((ten_p50 - one_p50) / 9)
        if one_p50 is not None and ten_p50 is not None
        else None,
        "burst_per_s": median(rates),
        "burst_p99_ms": ms(quantile(samples(burst, "latency"), 0.99)),
        "fan_out_s": median(figures_of(runs.get("fan_out", []), "wall")),
        "timer_lateness_p50_ms": ms(quantile(samples(timers, "lateness"), 0.5)),
        "timer_lateness_p99_ms": ms(quantile(samples(timers, "lateness"), 0.99)),
        "signal_to_resume_p99_ms": ms(quantile(samples(timers, "signal_to_resume"), 0.99)),
        "recovery_s": median(figures_of(recovery, "recovery")),
        "duplicated": sum(duplicated) if duplicated else None,
        "api_writes_per_workflow": median(
            figures_of(runs.get("one_step", []), "api_writes_per_workflow")
        ),
        "etcd_bytes_per_workflow": median(
            figures_of(runs.get("one_step", []), "etcd_bytes_per_workflow")
        ),
    }
    completed = figures_of(recovery, "completed")
    if completed:
        expected = float(sizes["recovery"]["count"]) * len(completed)
        out["recovery_completed"] = sum(completed)
        out["recovery_expected"] = expected
        out["lost"] = expected - sum(completed)
    else:
        out["lost"] = None
    for key in ("api_writes_per_workflow", "etcd_bytes_per_workflow"):
        value = median(figures_of(runs.get("ten_steps", []), key))
        if value is not None:
            out[f"{key}_ten_steps"] = value
    return out


def fmt(value: float | None) -> str:
    """A figure for the table."""
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Engine:
    """One engine's state through the run."""

    name: str
    status: str = "ok"  # ok, missing, failed
    reason: str = ""
    hello: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    driver: Driver | None = None


def start_drivers(engines: dict[str, Engine], steps: Plan, run_dir: Path, console: Console) -> None:
    """Start every runnable driver at once; wait for each one's ready line."""
    for name, engine in engines.items():
        if name in steps.missing:
            engine.status, engine.reason = "missing", steps.missing[name]
            continue
        workdir = run_dir / name
        workdir.mkdir(mode=0o755)
        engine.driver = Driver(
            name, steps.commands[name], workdir, run_dir / "logs" / f"{name}.log", steps.env
        )
    say(console, "waiting for the engines to start: " + ", ".join(
        n for n, e in engines.items() if e.driver is not None))  # fmt: skip

    def wait(engine: Engine) -> None:
        assert engine.driver is not None
        try:
            engine.driver.ready(START_TIMEOUT)
            engine.hello = engine.driver.hello
        except DriverFailed as exc:
            engine.status, engine.reason = "failed", f"did not start: {exc}"
            engine.driver.kill()
            engine.driver = None

    threads = [
        threading.Thread(target=wait, args=(e,)) for e in engines.values() if e.driver is not None
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, engine in engines.items():
        if engine.status == "ok":
            say(console, f"{name} ready: {engine.hello.get('version', '?')}")
        elif engine.status == "failed":
            console.print(f"[bold red]{name} FAILED[/bold red] {engine.reason}")


def run_rounds(
    engines: dict[str, Engine],
    sizes: Mapping[str, Mapping[str, Any]],
    rounds: int,
    workloads: Sequence[str],
    console: Console,
) -> None:
    """Every workload on every running engine, interleaved, ``rounds`` times."""
    names = list(engines)
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for workload in workloads:
            for name in order:
                engine = engines[name]
                if engine.driver is None:
                    continue
                started = time.monotonic()
                try:
                    answer = engine.driver.run(workload, sizes[workload], REQUEST_TIMEOUT)
                except DriverFailed as exc:
                    engine.status, engine.reason = "failed", f"{workload}: {exc}"
                    console.print(f"[bold red]{name} FAILED[/bold red] during {workload}: {exc}")
                    engine.driver.kill()
                    engine.driver = None
                    continue
                took = time.monotonic() - started
                if answer.get("ok"):
                    engine.answers.setdefault(workload, []).append(answer)
                    say(console, f"round {number + 1} {workload:<9} {name:<24} {took:6.1f}s")
                else:
                    error = str(answer.get("error"))
                    engine.errors.append(f"round {number + 1} {workload}: {error}")
                    console.print(f"[red]round {number + 1} {workload} {name}: error[/red] {error}")


def table(
    engines: Mapping[str, Engine], summary: Mapping[str, Mapping[str, float | None]]
) -> Table:
    """The terminal table: one row per figure, one column per engine (missing ones included)."""
    grid = Table(title="kontinue and its peers, same machine, same run", show_lines=False)
    grid.add_column("figure", no_wrap=True)
    grid.add_column("unit", style="dim")
    for name, engine in engines.items():
        style = "bold" if name == "kontinue" else ""
        header = name if engine.status == "ok" else f"{name}\n[red]{engine.status.upper()}[/red]"
        grid.add_column(header, justify="right", style=style)
    for figure in FIGURES:
        cells = []
        for name, engine in engines.items():
            if engine.status == "missing":
                cells.append("[red]missing[/red]")
                continue
            value = summary.get(name, {}).get(figure.key)
            cells.append(fmt(value) if value is not None else "[dim]-[/dim]")
        grid.add_row(figure.label, figure.unit, *cells)
    return grid


def ratios(
    summary: Mapping[str, Mapping[str, float | None]],
) -> dict[str, dict[str, float | None]]:
    """Kontinue's figure divided by each peer's (below 1 is kontinue lower)."""
    mine = summary.get("kontinue", {})
    out: dict[str, dict[str, float | None]] = {}
    for peer, theirs in summary.items():
        if peer == "kontinue":
            continue
        row: dict[str, float | None] = {}
        for figure in FIGURES:
            a, b = mine.get(figure.key), theirs.get(figure.key)
            row[figure.key] = round(a / b, 3) if a is not None and b else None
        out[peer] = row
    return out


def chart(python: Path | None, results: Path, png: Path, console: Console) -> str:
    """Draw the chart with the peers' Python (it has matplotlib); '' or why not."""
    if python is None:
        return "no chart: the peers' virtual environment (matplotlib) is not available"
    done = subprocess.run(
        [str(python), str(HERE / "chart.py"), str(results), str(png)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return f"no chart: {done.stderr.strip().splitlines()[-1:]}"
    say(console, f"chart: {png}")
    return ""


def git_commit() -> str:
    """The checked-out commit (with + when the tree has changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+" if dirty else "")


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run the comparison; 0 when kontinue and every runnable peer answered every workload."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 rounds (< 10 min)")
    parser.add_argument("--engines", help=f"comma-separated subset of {','.join(ENGINES)}")
    parser.add_argument("--workloads", help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, quick 2)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where peers.json/png go")
    parser.add_argument("--keep", action="store_true", help="keep the engines' work directories")
    args = parser.parse_args(argv)
    console = Console(file=out)
    if not console.is_terminal:  # under make or a pipe: wide enough for one column per engine
        console = Console(file=out, width=170)
    engines_wanted = args.engines.split(",") if args.engines else list(ENGINES)
    workloads = args.workloads.split(",") if args.workloads else list(WORKLOADS)
    for name in engines_wanted:
        if name not in ENGINES:
            parser.error(f"unknown engine {name}")
    for name in workloads:
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name}")
    sizes = QUICK_SIZES if args.quick else SIZES
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    started = datetime.now(UTC)
    load_before = os.getloadavg()

    steps = plan(engines_wanted, console)
    engines = {name: Engine(name) for name in engines_wanted}
    run_dir = Path(tempfile.mkdtemp(prefix="kontinue-bench-peers-"))
    run_dir.chmod(0o755)  # a driver may run a server as an unprivileged user in its workdir
    (run_dir / "logs").mkdir()
    say(console, f"work directory {run_dir}")
    stop_requested: list[int] = []

    def on_term(signum: int, frame: object) -> None:
        stop_requested.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        start_drivers(engines, steps, run_dir, console)
        run_rounds(engines, sizes, rounds, workloads, console)
    finally:
        for engine in engines.values():
            if engine.driver is not None:
                engine.driver.close()
                engine.driver = None
    load_after = os.getloadavg()

    summary = {
        name: summarize(engine.answers, sizes)
        for name, engine in engines.items()
        if engine.status != "missing"
    }
    console.print(table(engines, summary))
    for name, engine in engines.items():
        if engine.status != "ok":
            console.print(f"[bold red]{name}: {engine.status.upper()}[/bold red] {engine.reason}")
        for error in engine.errors:
            console.print(f"[red]{name}: {error}[/red]")
    console.print(
        f"[dim]load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, on "
        f"{os.cpu_count()} cores; sizes {'QUICK' if args.quick else 'full'}, {rounds} rounds; "
        f"driver logs in {run_dir / 'logs'}[/dim]"
    )

    args.out.mkdir(parents=True, exist_ok=True)
    document = {
        "run": {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "quick": args.quick,
            "rounds": rounds,
            "sizes": {w: sizes[w] for w in workloads},
            "machine": {
                "cores": os.cpu_count(),
                "platform": platform.platform(),
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in load_after],
            },
        },
        "figures": [figure.__dict__ for figure in FIGURES],
        "engines": {
            name: {
                "status": engine.status,
                "reason": engine.reason,
                "version": engine.hello.get("version"),
                "durability": engine.hello.get("durability"),
                "figures": summary.get(name, {}),
                "errors": engine.errors,
                "answers": engine.answers,
            }
            for name, engine in engines.items()
        },
        "ratios_kontinue_over_peer": ratios(summary),
    }
    results = args.out / "peers.json"
    results.write_text(json.dumps(document, indent=1) + "\n")
    say(console, f"results: {results}")
    why = chart(steps.python, results, args.out / "peers.png", console)
    if why:
        console.print(f"[bold red]{why}[/bold red]")

    if not args.keep:
        for name in engines:
            shutil.rmtree(run_dir / name, ignore_errors=True)
    if stop_requested:
        return 130
    failed = [n for n, e in engines.items() if e.status == "failed" or e.errors]
    return 1 if failed or engines.get("kontinue", Engine("kontinue")).status != "ok" else 0


if __name__ == "__main__":
    sys.exit(main())
