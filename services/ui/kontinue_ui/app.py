"""The app factory: ``create_app(state)`` builds one UI process's Flask app.

The app serves what ``state`` holds and starts nothing: whoever runs it starts the execution
cache (the command line does, in every gunicorn worker), so a test can hand it a cache of its
own and drive the app with Flask's test client.
"""

from __future__ import annotations

import secrets
import time

from flask import Flask, g, redirect, request, url_for
from flask import Response as FlaskResponse
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from kontinue_ui import access, errors, formatting, hardening, metrics
from kontinue_ui.forwarded import TrustedForwarded, parse_networks
from kontinue_ui.state import UiState
from kontinue_ui.views import archives, bulk, catalog, events, executions, health, recovery, start


def create_app(state: UiState) -> Flask:
    """A Flask app serving the UI from ``state`` (:meth:`UiState.build`).

    The app does not start ``state.cache``: the caller does (``/readyz`` answers 503 until
    it has listed every namespace in scope), and stops it.

    Behind an ingress under a path prefix, a proxy named in ``forwarded_allow_ips`` sends
    ``X-Forwarded-Prefix`` (or the server sets ``SCRIPT_NAME``) and every link the pages make
    carries it.
    """
    settings = state.settings
    namespaces = state.namespaces

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        WTF_CSRF_TIME_LIMIT=settings.csrf_time_limit,
        WTF_CSRF_SSL_STRICT=False,  # TLS ends at the ingress; the Referer check adds nothing
        SESSION_COOKIE_NAME="kontinue_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        MAX_FORM_MEMORY_SIZE=settings.max_content_length,
    )
    app.wsgi_app = TrustedForwarded(  # type: ignore[method-assign]
        app.wsgi_app, parse_networks(settings.forwarded_allow_ips)
    )
    app.extensions["kontinue"] = state
    access.install(app)  # before CSRF: an unauthenticated or read-only request is refused first
    CSRFProtect(app)
    hardening.install(app)
    errors.register(app)
    formatting.register(app)
    for blueprint in (
        executions.blueprint,
        bulk.blueprint,
        recovery.blueprint,
        events.blueprint,
        start.blueprint,
        catalog.blueprint,
        archives.blueprint,
        health.blueprint,
    ):
        app.register_blueprint(blueprint)

    @app.context_processor
    def _globals() -> dict[str, object]:
        return {
            "read_only": not settings.actions_enabled,
            "cluster_wide": namespaces is None,
            "namespaces": namespaces or (),
            "refresh_ms": int(settings.refresh_seconds * 1000),
            "user": access.current_user(),
        }

    @app.before_request
    def _start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _server_timing(response: FlaskResponse) -> FlaskResponse:
        started = g.get("started")
        if started is not None:  # seen in the browser's network panel; the benchmark reads it
            elapsed = time.perf_counter() - started
            response.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.2f}"
            rule = request.url_rule.rule if request.url_rule is not None else None
            metrics.observe(request.method, rule, response.status_code, elapsed)
        return response

    @app.get("/")
    def _index() -> Response:
        return redirect(url_for("executions.index"))

    return app
