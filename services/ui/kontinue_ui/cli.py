"""``kontinue-ui``: the web UI, served by gunicorn.

Defaults suit one replica: 2 gthread workers with 8 threads each. Every worker process runs its
own watch-fed execution cache; all share one secret key (``$KONTINUE_UI_SECRET_KEY``, or one
generated at start), so a CSRF token from one worker is accepted by another. Replicas behind
one Service must be given the same ``$KONTINUE_UI_SECRET_KEY``.

Metrics: with ``--metrics-port`` (default 9466; 0 disables) prometheus-client runs in
multi-process mode (``$PROMETHEUS_MULTIPROC_DIR``, a fresh temporary directory unless set;
emptied at start), the workers write their samples there and the master serves their sum on
``/metrics``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from kontinue import _service
from kontinue.client import Kube, Unreachable
from kontinue_ui.settings import Settings

MULTIPROC_ENV = (
    "PROMETHEUS_MULTIPROC_DIR"  # not imported: importing prometheus-client fixes its mode
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="kontinue-ui", description=__doc__)
    _service.add_scope_arguments(parser, "show")
    parser.add_argument("--host", default=os.environ.get("KONTINUE_UI_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KONTINUE_UI_PORT", 8080)))
    parser.add_argument(
        "--read-only", action="store_true", help="no actions: every POST is refused (403)"
    )
    parser.add_argument(
        "--impersonate",
        action="store_true",
        help="run actions as the user the auth proxy names (Kubernetes impersonation)",
    )
    parser.add_argument("--user-header", default="X-Forwarded-User")
    parser.add_argument("--groups-header", default="X-Forwarded-Groups")
    parser.add_argument(
        "--path-prefix",
        default=os.environ.get("KONTINUE_UI_PATH_PREFIX", ""),
        help="serve under this path (e.g. /kontinue behind an ingress)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--worker-class", default="gthread", help="gunicorn worker class (default gthread)"
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per gthread worker")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument(
        "--refresh-seconds",
        type=float,
        default=2.0,
        help="how often open pages ask whether they changed",
    )
    _service.add_common_arguments(parser)
    _service.add_telemetry_arguments(parser, metrics_port=9466)
    args = parser.parse_args(argv)
    if args.page_size < 1 or args.threads < 1 or args.workers < 1:
        parser.error("--page-size, --threads and --workers must be at least 1")
    return args


class _Server(BaseApplication):  # type: ignore[misc]
    """gunicorn serving one app factory call per worker process."""

    def __init__(self, settings: Settings, options: dict[str, Any], prefix: str) -> None:
        self.settings = settings
        self.options = options
        self.prefix = prefix
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from kontinue_ui.app import create_app
        from kontinue_ui.prefix import PathPrefix

        app = create_app(self.settings)
        if self.prefix.strip("/"):
            app.wsgi_app = PathPrefix(app.wsgi_app, self.prefix)  # type: ignore[method-assign]
        return app


def _metrics_hooks(port: int) -> dict[str, Any]:
    """Gunicorn server hooks: an empty multi-process directory, /metrics from the master."""

    def on_starting(server: Any) -> None:
        from kontinue.telemetry import metrics_server

        metrics_server.prepare_multiprocess_dir()

    def when_ready(server: Any) -> None:
        from kontinue.telemetry import metrics_server

        try:
            metrics_server.start_metrics_server(port)
        except OSError as exc:  # as the other services: run without metrics rather than not
            server.log.error("cannot serve metrics on port %d: %s", port, exc)

    def child_exit(server: Any, worker: Any) -> None:
        from kontinue.telemetry import metrics_server

        metrics_server.mark_process_dead(worker.pid)

    return {"on_starting": on_starting, "when_ready": when_ready, "child_exit": child_exit}


def main(argv: list[str] | None = None) -> int:
    """Check the cluster configuration, then serve until SIGTERM or Ctrl-C."""
    args = parse_args(argv)
    _service.setup_logging(args.log_level, args.log_format)
    hooks: dict[str, Any] = {}
    if args.metrics_port:
        # before prometheus-client is first imported here or in a worker: it picks its value
        # store at import
        os.environ.setdefault(MULTIPROC_ENV, tempfile.mkdtemp(prefix="kontinue-ui-metrics-"))
        hooks = _metrics_hooks(args.metrics_port)
    try:
        Kube(args.kubeconfig, args.context)
    except Unreachable as exc:
        print(f"kontinue-ui: {exc}", file=sys.stderr)
        return 2
    settings = Settings(
        namespaces=tuple(args.namespace),
        all_namespaces=args.all_namespaces,
        read_only=args.read_only,
        impersonate=args.impersonate,
        user_header=args.user_header,
        groups_header=args.groups_header,
        kubeconfig=args.kubeconfig,
        context=args.context,
        secret_key=os.environ.get("KONTINUE_UI_SECRET_KEY") or secrets.token_hex(32),
        page_size=args.page_size,
        refresh_seconds=args.refresh_seconds,
    )
    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "worker_class": args.worker_class,
        "threads": args.threads,
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": args.log_level.lower(),
        "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1"),
        "proc_name": "kontinue-ui",
        "control_socket_disable": True,  # no writable home in the image; nothing uses it
        **hooks,
    }
    _Server(settings, options, args.path_prefix).run()
    return 0
