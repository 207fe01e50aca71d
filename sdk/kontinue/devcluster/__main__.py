"""Shell entry point of the local control plane.

    python -m kontinue.devcluster up [--workdir DIR] [--crds DIR]
                                           start in the background (idempotent), apply CRDs
    python -m kontinue.devcluster down [--workdir DIR]    stop it and remove DIR
    python -m kontinue.devcluster serve [--workdir DIR]   run in the foreground until signalled
    python -m kontinue.devcluster status [--workdir DIR]  exit 0 when a cluster runs there
    python -m kontinue.devcluster node-up [--workdir DIR]    join a real node (root), detached
    python -m kontinue.devcluster node-down [--workdir DIR]  stop it and undo all it changed
    python -m kontinue.devcluster node-serve [--workdir DIR] run the real node in the foreground

``up`` starts a detached ``serve`` supervisor (its own session) and waits until it reports the
cluster ready; ``down`` sends that supervisor SIGTERM, so the components stop in order.
``up --real-node`` starts the cluster so that a real node can join it (the apiserver on
:data:`kontinue.devcluster.realnode.NODE_ADDRESS`, put on the loopback device; root only);
``node-up`` then starts the node the same way under a ``node-serve`` supervisor.
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

from kontinue.devcluster import _netaddr, realnode
from kontinue.devcluster._cluster import ClusterError, LocalCluster
from kontinue.devcluster.processes import Component
from kontinue.devcluster.testbin import NODE_REQUIRED, TestbinError, find_extra_bin, find_testbin

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


def _supervisor_pid(workdir: Path, name: str = "supervisor.pid") -> int | None:
    try:
        pid = int((workdir / name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _stop_on_signals() -> threading.Event:
    """An event that SIGINT or SIGTERM sets."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _supervise(components: list[Component], stop: threading.Event, what: str, logs: Path) -> int:
    """Wait for ``stop``; 1 as soon as one of ``components`` exits, else 0."""
    while not stop.wait(1.0):
        dead = [c.name for c in components if not c.running()]
        if dead:
            _err(f"{what} exited: {', '.join(dead)}; see {logs}")
            return 1
    return 0


def serve(workdir: Path, build: bool, real_node: bool = False) -> int:
    """Run the cluster in the foreground until SIGINT or SIGTERM."""
    stop = _stop_on_signals()
    for marker in ("ready", "failed"):
        (workdir / marker).unlink(missing_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "supervisor.pid").write_text(str(os.getpid()))
    try:
        bin_dir = find_testbin(build=build)
        cluster = LocalCluster(
            bin_dir,
            workdir,
            log=lambda line: print(line, flush=True),
            node_address=realnode.NODE_ADDRESS if real_node else None,
        )
        cluster.start()
    except (ClusterError, TestbinError, OSError, _netaddr.AddressError) as exc:
        (workdir / "failed").write_text(str(exc))
        _err(str(exc))
        return 1
    try:
        (workdir / "ready").write_text(str(cluster.kubeconfig))
        print(f"KUBECONFIG={cluster.kubeconfig}", flush=True)
        return _supervise(cluster.components, stop, "component(s)", cluster.logs_dir)
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


def _node_capable(workdir: Path) -> bool:
    return bool(LocalCluster.attach(workdir).node_address)


def up(
    workdir: Path, build: bool, timeout: float, crds: Path | None, real_node: bool = False
) -> int:
    """Start a detached cluster in ``workdir`` unless one already runs there; install CRDs."""
    workdir = workdir.resolve()
    if _supervisor_pid(workdir) is not None and (workdir / "ready").exists():
        if real_node and not _node_capable(workdir):
            _err(
                f"the cluster in {workdir} was started without --real-node, so no real node can "
                "join it: stop it first (make cluster-down)"
            )
            return 1
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
    command = [sys.executable, "-m", "kontinue.devcluster", "serve", "--workdir", str(workdir)]
    if real_node:
        command.append("--real-node")
    with (workdir / "supervisor.log").open("ab") as log:
        supervisor = subprocess.Popen(
            command,
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


def node_serve(workdir: Path, build: bool) -> int:
    """Run a real node for the cluster in ``workdir`` in the foreground until signalled."""
    stop = _stop_on_signals()
    for marker in ("node-ready", "node-failed"):
        (workdir / marker).unlink(missing_ok=True)
    (workdir / "node-supervisor.pid").write_text(str(os.getpid()))
    try:
        node_bin = find_extra_bin("build-node.sh", NODE_REQUIRED, build=build)
        cluster = LocalCluster.attach(workdir)
        node = realnode.RealNode(
            cluster, node_bin, workdir / "node", log=lambda line: print(line, flush=True)
        )
        node.start()
    except (ClusterError, TestbinError, OSError) as exc:
        (workdir / "node-failed").write_text(str(exc))
        _err(str(exc))
        (workdir / "node-supervisor.pid").unlink(missing_ok=True)
        return 1
    try:
        (workdir / "node-ready").write_text(node.name)
        return _supervise(node.components, stop, "node component(s)", cluster.logs_dir)
    finally:
        node.stop()
        (workdir / "node-ready").unlink(missing_ok=True)
        (workdir / "node-supervisor.pid").unlink(missing_ok=True)


def node_up(workdir: Path, build: bool, timeout: float) -> int:
    """Join a real node to the cluster in ``workdir`` (detached); idempotent."""
    workdir = workdir.resolve()
    if _supervisor_pid(workdir) is None or not (workdir / "ready").exists():
        _err(f"no cluster runs in {workdir}: start one with --real-node first (make node-up does)")
        return 1
    if not _node_capable(workdir):
        _err(
            f"the cluster in {workdir} was started without --real-node, so no real node can join "
            "it: make cluster-down, then make node-up"
        )
        return 1
    missing = realnode.missing_prerequisites()
    if missing:
        _err("a real node cannot start here; missing: " + "; ".join(missing))
        return 1
    if _supervisor_pid(workdir, "node-supervisor.pid") is not None:
        if (workdir / "node-ready").exists():
            return 0
        _err(f"a real node is starting or stuck in {workdir}; run node-down first")
        return 1
    if build:
        try:
            find_extra_bin("build-node.sh", NODE_REQUIRED, build=True)
        except TestbinError as exc:
            _err(str(exc))
            return 1
    with (workdir / "node-supervisor.log").open("ab") as log:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "kontinue.devcluster", "node-serve", "--workdir", str(workdir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (workdir / "node-ready").exists():
            print(f"real node {(workdir / 'node-ready').read_text()} ready")
            return 0
        if (workdir / "node-failed").exists() or supervisor.poll() is not None:
            failed = workdir / "node-failed"
            reason = failed.read_text() if failed.exists() else "see node-supervisor.log"
            _err(f"the real node did not start: {reason}")
            return 1
        time.sleep(0.2)
    _err(f"the real node did not become ready within {timeout:.0f}s; see {workdir}/logs")
    supervisor.terminate()
    return 1


def node_down(workdir: Path) -> int:
    """Stop the real node of the cluster in ``workdir`` and undo every change it made."""
    workdir = workdir.resolve()
    pid = _supervisor_pid(workdir, "node-supervisor.pid")
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 120
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    if (workdir / "node").exists():  # the supervisor was killed: undo what it recorded
        realnode.teardown(workdir / "node", log=_err)
    for marker in ("node-ready", "node-failed", "node-supervisor.pid"):
        (workdir / marker).unlink(missing_ok=True)
    return 0


def down(workdir: Path, keep: bool) -> int:
    """Stop the cluster running in ``workdir`` (and its real node) and remove the directory."""
    workdir = workdir.resolve()
    node_down(workdir)
    pid = _supervisor_pid(workdir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    if workdir.exists():
        _netaddr.release_loopback_address(workdir)
    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m kontinue.devcluster")
    parser.add_argument(
        "command",
        choices=["up", "down", "serve", "status", "node-up", "node-down", "node-serve"],
    )
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
    parser.add_argument(
        "--real-node",
        action="store_true",
        help="up/serve: let a real node join (apiserver on an address on lo; needs root)",
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.workdir.resolve(), args.build, args.real_node)
    if args.command == "up":
        return up(args.workdir, args.build, args.timeout, args.crds, args.real_node)
    if args.command == "down":
        return down(args.workdir, args.keep)
    if args.command == "node-serve":
        return node_serve(args.workdir.resolve(), args.build)
    if args.command == "node-up":
        return node_up(args.workdir, args.build, args.timeout)
    if args.command == "node-down":
        return node_down(args.workdir)
    running = _supervisor_pid(args.workdir.resolve()) is not None
    ready = (args.workdir / "ready").exists()
    print("running" if running and ready else "stopped")
    return 0 if running and ready else 1


if __name__ == "__main__":
    sys.exit(main())
