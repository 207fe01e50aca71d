"""The UI's Prometheus metrics (added up across gunicorn's worker processes).

``kontinue_ui_request_duration_seconds`` (histogram; labels method, route, status): the time
the app took per request. ``route`` is the Flask URL rule (``/executions/<namespace>/<name>``),
never the raw path, so the label set stays bounded. The API request errors the UI meets are
counted by :mod:`kontinue.telemetry.api_errors`. ``kontinue-ui`` serves the sum of every
worker process from its master on ``--metrics-port`` (see :mod:`kontinue_ui.cli`).
"""

from __future__ import annotations

from prometheus_client import Histogram

REQUEST_DURATION = Histogram(
    "kontinue_ui_request_duration_seconds",
    "Time the UI took to answer a request, by method, route and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def observe(method: str, route: str | None, status: int, seconds: float) -> None:
    """Record one answered request (``route`` None: no URL rule matched)."""
    REQUEST_DURATION.labels(method, route or "unmatched", str(status)).observe(seconds)
