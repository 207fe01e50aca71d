"""``/metrics`` for a service's ``--metrics-port``, and Prometheus multi-process mode.

A single-process service (controller, worker) calls :func:`start_metrics_server` once::

    port = start_metrics_server(args.metrics_port)  # 0 disables; returns the bound port

A gunicorn-served app (the UI) runs several worker processes whose metrics must be added up.
prometheus-client does that through files in a directory named by ``PROMETHEUS_MULTIPROC_DIR``,
which must be set in the environment *before* prometheus-client is first imported in any
process (the value store is chosen at import). In the gunicorn configuration::

    from kontinue.telemetry import metrics_server

    def on_starting(server):          # the master, before any worker forks
        metrics_server.prepare_multiprocess_dir()

    def when_ready(server):           # the master serves the sum of all workers
        metrics_server.start_metrics_server(port)

    def child_exit(server, worker):   # a dead worker's live gauges go away
        metrics_server.mark_process_dead(worker.pid)

With ``PROMETHEUS_MULTIPROC_DIR`` set, :func:`start_metrics_server` serves
:func:`multiprocess_registry` (every process's files) instead of the process's own registry.
Histograms and counters add up across processes; a gauge needs a ``multiprocess_mode``.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable that switches prometheus-client into multi-process mode."""


def multiprocess_dir() -> Path | None:
    """The multi-process directory, or None in single-process mode."""
    value = os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())
    return Path(value) if value else None


def prepare_multiprocess_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Create the multi-process directory empty (stale files of an earlier run would count).

    Call it once in the parent process before any worker process starts.

    Args:
        path: the directory; default ``$PROMETHEUS_MULTIPROC_DIR``, which is set to it.

    Returns:
        The directory.

    Raises:
        ValueError: neither ``path`` nor ``$PROMETHEUS_MULTIPROC_DIR`` is given.
    """
    chosen = Path(path) if path is not None else multiprocess_dir()
    if chosen is None:
        raise ValueError(f"no multi-process directory: pass one or set ${MULTIPROC_ENV}")
    if chosen.exists():
        shutil.rmtree(chosen)
    chosen.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(chosen)
    return chosen


def multiprocess_registry() -> CollectorRegistry:
    """A registry that reads every process's metrics from the multi-process directory."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def mark_process_dead(pid: int) -> None:
    """Drop the live gauges of a process that exited (gunicorn's ``child_exit`` hook)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def start_metrics_server(
    port: int, *, addr: str = "0.0.0.0", registry: CollectorRegistry | None = None
) -> int | None:
    """Serve ``/metrics`` on ``port`` in a background thread.

    Args:
        port: the TCP port; 0 disables the server (nothing is started).
        addr: the address to bind.
        registry: what to serve; default the process's registry, or
            :func:`multiprocess_registry` in multi-process mode.

    Returns:
        The port served on, or None when disabled.
    """
    if port == 0:
        return None
    if registry is None:
        registry = multiprocess_registry() if multiprocess_dir() is not None else REGISTRY
    server, _ = start_http_server(port, addr=addr, registry=registry)
    bound = int(server.server_port)
    log.info("serving metrics on %s:%d/metrics", addr, bound)
    return bound
