"""``kontinue-controller``: the HA controller (kopf), one active leader among its replicas."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading

import kopf
from prometheus_client import REGISTRY

from kontinue import service
from kontinue.client import kubeapi
from kontinue.telemetry import tracing
from kontinue_controller import metrics
from kontinue_controller.assembly import assemble
from kontinue_controller.handlers import build_registry
from kontinue_controller.leadership import LeaderElector
from kontinue_controller.resync import Resync

log = logging.getLogger("kontinue_controller")

_DEEP_JSON_RECURSION = 25_000
"""Recursion limit of the controller: kopf decodes every object the API server can hold (JSON
nested up to 10,000 levels) with the standard decoder; the view keeps only slim copies."""

_KOPF_STACK = 256 * 1024 * 1024
"""Stack of kopf's thread, for that decoding (reserved address space, not memory)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="kontinue-controller", description=__doc__)
    service.add_scope_arguments(parser, "manage")
    parser.add_argument(
        "--lease-namespace",
        default=os.environ.get("POD_NAMESPACE"),
        help="namespace of the leader-election Lease (default: the first "
        "managed namespace, or the kubeconfig's)",
    )
    parser.add_argument("--lease-name", default="kontinue-controller")
    parser.add_argument(
        "--lease-duration",
        type=int,
        default=10,
        help="seconds a standby waits for a silent leader (default 10)",
    )
    parser.add_argument(
        "--identity",
        default=None,
        help="this replica's name (default: host name and a random suffix)",
    )
    parser.add_argument(
        "--resync-seconds",
        type=float,
        default=300.0,
        help="seconds between two full listings that catch up on lost events (default 300)",
    )
    service.add_common_arguments(parser)
    service.add_telemetry_arguments(parser, metrics_port=9464)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Campaign for leadership; while leading, run the operator. Exit when it ends."""
    args = parse_args(argv)
    service.setup_logging(args.log_level, args.log_format)
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    identity = args.identity or service.default_identity()
    try:
        kube = kubeapi.Kube(
            args.kubeconfig, args.context, user_agent=f"kontinue-controller/{identity}"
        )
    except kubeapi.Unreachable as exc:
        print(f"kontinue-controller: {exc}", file=sys.stderr)
        return 2
    service.start_telemetry(args, "kontinue-controller", identity, kube)
    namespaces = [] if args.all_namespaces else (args.namespace or [kube.default_namespace])
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    elector = LeaderElector(
        kube,
        args.lease_namespace or (namespaces or [kube.default_namespace])[0],
        args.lease_name,
        identity,
        duration=args.lease_duration,
        stop=stop,
    )
    elector.start()
    log.info("%s campaigning for leadership", identity)
    while not stop.is_set() and not elector.leading.wait(0.2):
        pass
    if stop.is_set():
        return 0
    timekeeper = assemble(kube, stop, identity=identity, leading=elector.valid)
    timekeeper.start()
    REGISTRY.register(metrics.ViewCollector(timekeeper.view.objects))
    metrics.LEADING.set(1)

    def stop_when_leadership_is_lost() -> None:
        elector.lost.wait()
        stop.set()

    threading.Thread(target=stop_when_leadership_is_lost, daemon=True).start()
    log.info("%s leading; managing %s", identity, ", ".join(namespaces) or "all namespaces")
    registry = build_registry(timekeeper)

    def operate() -> None:
        asyncio.run(
            kopf.operator(
                registry=registry,
                clusterwide=args.all_namespaces,
                namespaces=namespaces,
                standalone=True,
                stop_flag=stop,
            )
        )
        stop.set()

    # kopf runs in its own thread, so this (main) thread keeps the signal handlers; one object
    # nested deeper than Python's default recursion limit must not stop a watch
    sys.setrecursionlimit(max(sys.getrecursionlimit(), _DEEP_JSON_RECURSION))
    previous_stack = threading.stack_size(_KOPF_STACK)
    try:
        operator = threading.Thread(target=operate, name="kopf", daemon=True)
        operator.start()
    finally:
        threading.stack_size(previous_stack)
    Resync(kube, timekeeper, namespaces, stop, interval=args.resync_seconds).start()
    stop.wait()
    operator.join(timeout=15)
    metrics.LEADING.set(0)
    tracing.flush()
    if elector.lost.is_set():
        return 1
    elector.release()
    return 0
