"""``kontinue-ui``: the web UI, served by gunicorn.

Who may do what (docs/security.md): with ``--auth none`` (the default) nobody is
authenticated and the UI is read-only, unless ``--anonymous-actions`` lets anyone who reaches
it act with the UI's own rights (for a UI nobody else can reach, as ``kontinue dev``'s).
``--auth proxy`` trusts the identity headers of an authenticating proxy that proves itself
with a shared secret (``--proxy-secret-file`` or ``$KONTINUE_UI_PROXY_SECRET``) and acts and
reads as that user through impersonation; ``--auth token`` acts and reads with the user's own
bearer token. Either enables actions (``--read-only`` turns them off again).

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

from kontinue import service
from kontinue.client import Kube, Unreachable
from kontinue_ui.forwarded import parse_networks
from kontinue_ui.settings import DEFAULT_PROXY_SECRET_HEADER, AuthMode, Settings

PROXY_SECRET_ENV = "KONTINUE_UI_PROXY_SECRET"

MULTIPROC_ENV = (
    "PROMETHEUS_MULTIPROC_DIR"  # not imported: importing prometheus-client fixes its mode
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="kontinue-ui", description=__doc__)
    service.add_scope_arguments(parser, "show")
    parser.add_argument("--host", default=os.environ.get("KONTINUE_UI_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KONTINUE_UI_PORT", 8080)))
    parser.add_argument(
        "--auth",
        choices=[m.value for m in AuthMode],
        default=os.environ.get("KONTINUE_UI_AUTH", AuthMode.NONE.value),
        help="none: nobody is authenticated (read-only unless --anonymous-actions); proxy: an "
        "authenticating proxy names the user (impersonated); token: the user's bearer token",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="no actions: every POST is refused (403)"
    )
    parser.add_argument(
        "--anonymous-actions",
        action="store_true",
        help="with --auth none, let anyone who reaches the UI act with its own rights "
        "(only for a UI nobody else can reach)",
    )
    parser.add_argument(
        "--proxy-secret-file",
        help=f"file holding the auth proxy's shared secret (default: ${PROXY_SECRET_ENV})",
    )
    parser.add_argument(
        "--proxy-secret-header",
        default=DEFAULT_PROXY_SECRET_HEADER,
        help="the header in which the auth proxy sends the shared secret",
    )
    parser.add_argument("--user-header", default="X-Forwarded-User")
    parser.add_argument("--groups-header", default="X-Forwarded-Groups")
    parser.add_argument(
        "--proxy-groups",
        default=None,
        help="comma-separated groups the UI may act as; others the proxy names are ignored "
        "(default: any group but system: ones; empty: none)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("FORWARDED_ALLOW_IPS", ""),
        help="addresses or networks (comma-separated, * for any) whose X-Forwarded-* headers "
        "are honoured; default $FORWARDED_ALLOW_IPS, else none",
    )
    parser.add_argument(
        "--csrf-time-limit",
        type=int,
        default=4 * 3600,
        help="seconds a form's CSRF token stays valid (default 4 hours)",
    )
    parser.add_argument(
        "--max-content-length",
        type=int,
        default=1024 * 1024,
        help="largest request body accepted, in bytes (default 1 MiB)",
    )
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
    service.add_common_arguments(parser)
    service.add_telemetry_arguments(parser, metrics_port=9466)
    args = parser.parse_args(argv)
    if args.page_size < 1 or args.threads < 1 or args.workers < 1:
        parser.error("--page-size, --threads and --workers must be at least 1")
    if args.csrf_time_limit < 60 or args.max_content_length < 1024:
        parser.error("--csrf-time-limit must be at least 60 and --max-content-length 1024")
    try:
        args.forwarded_networks = parse_networks([args.forwarded_allow_ips])
    except ValueError as exc:
        parser.error(f"--forwarded-allow-ips: {exc}")
    args.proxy_secret = ""
    if args.auth == AuthMode.PROXY.value:
        if args.proxy_secret_file:
            try:
                with open(args.proxy_secret_file, encoding="utf-8") as source:
                    args.proxy_secret = source.read().strip()
            except OSError as exc:
                parser.error(f"--proxy-secret-file: {exc}")
        else:
            args.proxy_secret = os.environ.get(PROXY_SECRET_ENV, "").strip()
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
        from kontinue_ui.state import UiState

        state = UiState.build(self.settings)
        app = create_app(state)
        state.cache.start()  # in the worker process: its own watches, after the fork
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
    service.setup_logging(args.log_level, args.log_format)
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
    try:
        settings = Settings(
            namespaces=tuple(args.namespace),
            all_namespaces=args.all_namespaces,
            auth=AuthMode(args.auth),
            read_only=args.read_only,
            anonymous_actions=args.anonymous_actions,
            proxy_secret=args.proxy_secret,
            proxy_secret_header=args.proxy_secret_header,
            user_header=args.user_header,
            groups_header=args.groups_header,
            proxy_groups=None
            if args.proxy_groups is None
            else tuple(g.strip() for g in args.proxy_groups.split(",") if g.strip()),
            forwarded_allow_ips=tuple(str(n) for n in args.forwarded_networks),
            kubeconfig=args.kubeconfig,
            context=args.context,
            secret_key=os.environ.get("KONTINUE_UI_SECRET_KEY") or secrets.token_hex(32),
            csrf_time_limit=args.csrf_time_limit,
            max_content_length=args.max_content_length,
            page_size=args.page_size,
            refresh_seconds=args.refresh_seconds,
        )
    except ValueError as exc:
        print(f"kontinue-ui: {exc}", file=sys.stderr)
        return 2
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
        # gunicorn's own reading of X-Forwarded-Proto (the request's scheme) trusts the same
        # proxies as the app, and none when none are named
        "forwarded_allow_ips": ",".join(settings.forwarded_allow_ips) or "127.0.0.1",
        **({} if settings.forwarded_allow_ips else {"secure_scheme_headers": {}}),
        "proc_name": "kontinue-ui",
        "control_socket_disable": True,  # no writable home in the image; nothing uses it
        **hooks,
    }
    _Server(settings, options, args.path_prefix).run()
    return 0
