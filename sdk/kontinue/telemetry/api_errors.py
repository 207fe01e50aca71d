"""The API request error counter every service exports.

Telemetry sits below the client: it knows nothing of it. A service hands
:func:`observe_api_error` to its Kube client as the client's error observer
(``kube.error_observer = observe_api_error``, done by :func:`kontinue.service.start_telemetry`).
"""

from __future__ import annotations

from prometheus_client import Counter

API_REQUEST_ERRORS = Counter(
    "kontinue_api_request_errors",
    "Kubernetes API requests that failed, by HTTP verb and status code "
    "(code 0: the API server could not be reached). Conflicts (409) are the fencing and "
    "claim protocol at work, not faults.",
    ["verb", "code"],
)


def observe_api_error(method: str, code: int) -> None:
    """Count one failed request: its HTTP ``method`` and status ``code`` (0: unreachable)."""
    API_REQUEST_ERRORS.labels(verb=method.lower(), code=str(code)).inc()
