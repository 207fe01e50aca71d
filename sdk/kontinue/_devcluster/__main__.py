"""Shell entry point of the local control plane.

    python -m kontinue._devcluster up [--workdir DIR] [--crds DIR]
                                           start in the background (idempotent), apply CRDs
    python -m kontinue._devcluster down [--workdir DIR]    stop it and remove DIR
    python -m kontinue._devcluster serve [--workdir DIR]   run in the foreground until signalled
    python -m kontinue._devcluster status [--workdir DIR]  exit 0 when a cluster runs there

``up`` starts a detached ``serve`` supervisor (its own session) and waits until it reports the
cluster ready; ``down`` sends that supervisor SIGTERM, so the components stop in order.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kontinue._devcluster._cluster import ClusterError, LocalCluster
from kontinue._devcluster._testbin import TestbinError, find_testbin

DEFAULT_WORKDIR = Path(".local/cluster")


def _err(message: str) -> None:
    print(f"kontinue-cluster: {message}", file=sys.stderr)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _supervisor_pid(workdir: Path) -> int | None:
    try:
        pid = int((workdir / "supervisor.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def serve(workdir: Path, build: bool) -> int:
    """Run the cluster in the foreground until SIGINT or SIGTERM."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    for marker in ("ready", "failed"):
        (workdir / marker).unlink(missing_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "supervisor.pid").write_text(str(os.getpid()))
    try:
        bin_dir = find_testbin(build=build)
        cluster = LocalCluster(bin_dir, workdir, log=lambda line: print(line, flush=True))
        cluster.start()
    except (ClusterError, TestbinError, OSError) as exc:
        (workdir / "failed").write_text(str(exc))
        _err(str(exc))
        return 1
    try:
        (workdir / "ready").write_text(str(cluster.kubeconfig))
        print(f"KUBECONFIG={cluster.kubeconfig}", flush=True)
        while not stop.wait(1.0):
            dead = [c.name for c in cluster.components if not c.running()]
            if dead:
                _err(f"component(s) exited: {', '.join(dead)}; see {cluster.logs_dir}")
                return 1
        return 0
    finally:
        cluster.stop()
        (workdir / "ready").unlink(missing_ok=True)
        (workdir / "supervisor.pid").unlink(missing_ok=True)


def _install_crds(workdir: Path, crds: Path | None) -> int:
    if crds is None:
        return 0
    paths = sorted(crds.glob("*.yaml")) if crds.is_dir() else [crds]
    try:
        LocalCluster.attach(workdir).install_crds(paths)
    except (ClusterError, OSError) as exc:
        _err(f"installing the CRDs failed: {exc}")
        return 1
    return 0


def up(workdir: Path, build: bool, timeout: float, crds: Path | None) -> int:
    """Start a detached cluster in ``workdir`` unless one already runs there; install CRDs."""
    workdir = workdir.resolve()
    if _supervisor_pid(workdir) is not None and (workdir / "ready").exists():
        print((workdir / "kubeconfig").as_posix())
        return _install_crds(workdir, crds)
    if _supervisor_pid(workdir) is not None:
        _err(f"a cluster is starting or stuck in {workdir}; run down first")
        return 1
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    if build:  # build in the foreground so the progress shows in this terminal
        try:
            find_testbin(build=True)
        except TestbinError as exc:
            _err(str(exc))
            return 1
    with (workdir / "supervisor.log").open("ab") as log:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "kontinue._devcluster", "serve", "--workdir", str(workdir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (workdir / "ready").exists():
            print((workdir / "kubeconfig").as_posix())
            return _install_crds(workdir, crds)
        if (workdir / "failed").exists() or supervisor.poll() is not None:
            failed = workdir / "failed"
            reason = (
                failed.read_text() if failed.exists() else "see " + str(workdir / "supervisor.log")
            )
            _err(f"the cluster did not start: {reason}")
            return 1
        time.sleep(0.2)
    _err(f"the cluster did not become ready within {timeout:.0f}s; see {workdir}/logs")
    supervisor.terminate()
    return 1


def down(workdir: Path, keep: bool) -> int:
    """Stop the cluster running in ``workdir`` and remove the directory."""
    workdir = workdir.resolve()
    pid = _supervisor_pid(workdir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m kontinue._devcluster")
    parser.add_argument("command", choices=["up", "down", "serve", "status"])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument(
        "--no-build",
        dest="build",
        action="store_false",
        help="fail instead of building missing binaries",
    )
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--keep", action="store_true", help="down: keep the work directory")
    parser.add_argument("--crds", type=Path, help="up: CRD file or directory to apply")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.workdir.resolve(), args.build)
    if args.command == "up":
        return up(args.workdir, args.build, args.timeout, args.crds)
    if args.command == "down":
        return down(args.workdir, args.keep)
    running = _supervisor_pid(args.workdir.resolve()) is not None
    ready = (args.workdir / "ready").exists()
    print("running" if running and ready else "stopped")
    return 0 if running and ready else 1


if __name__ == "__main__":
    sys.exit(main())
