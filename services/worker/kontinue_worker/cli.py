"""``kontinue-worker``: run workflow functions from the given modules against a cluster."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from kontinue import service
from kontinue.api import durations, worker_versions
from kontinue.client import kubeapi
from kontinue.telemetry import tracing
from kontinue_worker.jobpods import JobPodDefaults
from kontinue_worker.loader import LoadError, load
from kontinue_worker.registration import VERSION_ENV
from kontinue_worker.worker import Worker, WorkerConfig

MODULES_ENV = "KONTINUE_WORKER_MODULES"
"""Modules to load when no ``--module`` is given (comma-separated)."""
UPGRADE_ENV = "KONTINUE_WORKER_UPGRADE_FROM"
"""Versions whose executions the worker upgrades when no ``--upgrade-from`` is given."""
DRAIN_ENV = "KONTINUE_WORKER_DRAIN"
"""``true``: the worker drains its version (``--drain``)."""
PATH_ENV = "KONTINUE_WORKER_PATH"
"""Import path entries when no ``--path`` is given (``os.pathsep``-separated)."""


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return durations.parse_duration(text).total_seconds()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="kontinue-worker", description=__doc__)
    parser.add_argument(
        "--module",
        "-m",
        action="append",
        default=[],
        help="Python module with @kontinue.function workflows (repeatable; default: "
        f"${MODULES_ENV}, comma-separated: what an image built FROM kontinue-worker sets)",
    )
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        help=f"directory to add to the import path (repeatable; ${PATH_ENV}, separated by "
        "':', adds more)",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="namespace to serve (repeatable; default: the kubeconfig's)",
    )
    scope.add_argument(
        "--all-namespaces",
        "-A",
        action="store_true",
        help="serve every namespace; the Lease and Functions live in the home namespace "
        "(--home-namespace)",
    )
    parser.add_argument(
        "--home-namespace",
        default=os.environ.get("POD_NAMESPACE"),
        help="with --all-namespaces: where its Lease and Functions live (default: "
        "$POD_NAMESPACE, else the kubeconfig's namespace)",
    )
    parser.add_argument(
        "--group",
        default=os.environ.get("KONTINUE_WORKER_GROUP", "default"),
        help="worker group (default: default)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="executions run at once (default 16)"
    )
    parser.add_argument(
        "--hold",
        type=_seconds,
        default=30.0,
        help="longest wait kept in the worker before releasing (default 30s)",
    )
    parser.add_argument(
        "--lease-duration",
        type=int,
        default=15,
        help="seconds without renewal after which others take over (default 15)",
    )
    parser.add_argument(
        "--grace",
        type=_seconds,
        default=20.0,
        help="SIGTERM grace period for running attempts (default 20s)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="worker name (default: host name and a random suffix)",
    )
    parser.add_argument(
        "--no-job-steps",
        dest="job_steps",
        action="store_false",
        help="this worker may not run Jobs (no RBAC for them): do not watch Jobs",
    )
    parser.add_argument(
        "--version",
        "--worker-version",
        dest="worker_version",
        default=os.environ.get(VERSION_ENV, ""),
        help="this worker's version, e.g. the image tag of the workflows: an execution is "
        "pinned to the version that first claims it and only workers of that version claim "
        f"it again (default: ${VERSION_ENV}, else the kontinue SDK's)",
    )
    parser.add_argument(
        "--upgrade-from",
        action="append",
        default=[],
        metavar="VERSIONS",
        help="also claim executions pinned to these versions (comma-separated, repeatable; "
        "'*': any other version) and move them to this worker's version: for code changed "
        f"compatibly, with patches (default: ${UPGRADE_ENV})",
    )
    parser.add_argument(
        "--drain",
        action="store_true",
        default=os.environ.get(DRAIN_ENV, "").lower() in ("1", "true", "yes"),
        help="take no new executions, only finish those pinned to this version: an old "
        f"version kept beside the new one until its executions are done (${DRAIN_ENV}=true)",
    )
    parser.add_argument(
        "--job-service-account",
        default=os.environ.get("KONTINUE_JOB_SERVICE_ACCOUNT") or None,
        help="ServiceAccount of job-step pods that name none (default: the namespace's default)",
    )
    parser.add_argument(
        "--job-automount-token",
        action="store_true",
        help="mount the API token into job-step pods that do not say (default: not mounted)",
    )
    service.add_common_arguments(parser)
    service.add_telemetry_arguments(parser, metrics_port=9465)
    args = parser.parse_args(argv)
    args.module = args.module or _split(os.environ.get(MODULES_ENV, ""), ",")
    args.path = args.path + _split(os.environ.get(PATH_ENV, ""), os.pathsep)
    args.upgrade_from = worker_versions.parse_upgrade_from(
        args.upgrade_from or [os.environ.get(UPGRADE_ENV, "")]
    )
    if not args.module:
        parser.error(f"no workflow module: pass --module or set ${MODULES_ENV}")
    return args


def _split(text: str, separator: str) -> list[str]:
    return [part.strip() for part in text.split(separator) if part.strip()]


def main(argv: list[str] | None = None) -> int:
    """Run a worker until SIGTERM or SIGINT."""
    args = parse_args(argv)
    service.setup_logging(args.log_level, args.log_format)
    try:
        registry = load(args.module, path=args.path)
        name = args.name or service.default_identity()
        kube = kubeapi.Kube(args.kubeconfig, args.context, user_agent=f"kontinue-worker/{name}")
    except (LoadError, kubeapi.Unreachable) as exc:
        print(f"kontinue-worker: {exc}", file=sys.stderr)
        return 2
    service.start_telemetry(args, "kontinue-worker", name, kube)
    config = WorkerConfig(
        name=name,
        namespaces=(
            [args.home_namespace or kube.default_namespace]
            if args.all_namespaces
            else args.namespace or [kube.default_namespace]
        ),
        all_namespaces=args.all_namespaces,
        group=args.group,
        concurrency=args.concurrency,
        hold=args.hold,
        lease_duration=args.lease_duration,
        grace=args.grace,
        job_steps=args.job_steps,
        version=args.worker_version,
        upgrade_from=args.upgrade_from,
        drain=args.drain,
        job_pods=JobPodDefaults(args.job_service_account, args.job_automount_token),
    )
    worker = Worker(kube, registry, config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        worker.start(abort=stop)  # a signal during start-up ends its retries
    except (kubeapi.ApiError, kubeapi.Unreachable) as exc:
        if stop.is_set():
            return 0
        print(f"kontinue-worker: cannot start: {exc}", file=sys.stderr)
        return 1
    while not stop.wait(0.5):
        if worker.lost.is_set():
            break
    logging.getLogger(__name__).info("shutting down")
    worker.shutdown()
    tracing.flush()
    return 1 if worker.lost.is_set() else 0
