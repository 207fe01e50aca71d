"""What every kontinue service's command line shares: connection flags, logging, identity."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import uuid


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


def setup_logging(level: str) -> None:
    """Plain-text logs with time, level and logger name."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def default_identity() -> str:
    """The pod name in a cluster, else the host name with a random suffix."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
