"""What every kontinue service's command line shares: connection flags, logging, identity.

The controller, the worker and the UI import this module (and nothing of each other): the
``--kubeconfig``/``--context``/``--log-level`` flags, the namespace scope flags, log set-up
(text or JSON lines), the process identity and the telemetry start-up (tracing, ``/metrics``,
the API error counter handed to the Kube client). Anything here is needed by at least two
services; what only one service needs stays in it.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import uuid

from kontinue.client import kubeapi


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--kubeconfig``, ``--context`` and ``--log-level``."""
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("KONTINUE_LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (default: $KONTINUE_LOG_LEVEL or INFO)",
    )


def add_scope_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """``--namespace``/``-n`` (repeatable) or ``--all-namespaces``/``-A``: what to ``verb``."""
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help=f"namespace to {verb} (repeatable; default: the kubeconfig's)",
    )
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true", help=f"{verb} every namespace"
    )


def add_telemetry_arguments(parser: argparse.ArgumentParser, *, metrics_port: int) -> None:
    """``--metrics-port`` (0 disables ``/metrics``) and ``--log-format`` (text or json)."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("KONTINUE_METRICS_PORT", metrics_port)),
        help=f"port of the Prometheus /metrics endpoint, 0 disables it "
        f"(default: $KONTINUE_METRICS_PORT or {metrics_port})",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("KONTINUE_LOG_FORMAT", "text"),
        help="text, or json lines with trace and execution ids (default: $KONTINUE_LOG_FORMAT "
        "or text)",
    )


def setup_logging(level: str, log_format: str = "text") -> None:
    """Logs on stderr: plain text with time, level and logger name, or JSON lines."""
    if log_format == "json":
        from kontinue.telemetry.json_logs import JsonLogFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(JsonLogFormatter())
        logging.basicConfig(level=level.upper(), handlers=[handler])
        return
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def default_identity() -> str:
    """The pod name in a cluster, else the host name with a random suffix."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"


def start_telemetry(
    args: argparse.Namespace, service: str, identity: str, kube: kubeapi.Kube | None = None
) -> int | None:
    """Traces from the ``OTEL_*`` environment, API error counts, ``/metrics`` on its port.

    A port that cannot be bound is logged, not fatal: a service runs without its metrics
    rather than not at all. For a single-process service; a gunicorn app serves ``/metrics``
    from its master instead (see :mod:`kontinue.telemetry.metrics_server`).

    Returns:
        The port ``/metrics`` is served on, or None.
    """
    from kontinue.telemetry import api_errors, metrics_server, tracing

    if tracing.configure_tracing(service, identity):
        logging.getLogger(service).info("tracing on")
    if kube is not None:
        kube.error_observer = api_errors.observe_api_error
    try:
        return metrics_server.start_metrics_server(args.metrics_port)
    except OSError as exc:
        logging.getLogger(service).warning(
            "cannot serve metrics on port %d: %s", args.metrics_port, exc
        )
        return None
