"""The API request error counter every service exports (its Kube client reports to it)."""

from __future__ import annotations

from prometheus_client import Counter

from kontinue.client import _kube

API_REQUEST_ERRORS = Counter(
    "kontinue_api_request_errors",
    "Kubernetes API requests that failed, by HTTP verb and status code "
    "(code 0: the API server could not be reached). Conflicts (409) are the fencing and "
    "claim protocol at work, not faults.",
    ["verb", "code"],
)


def _observe(method: str, code: int) -> None:
    API_REQUEST_ERRORS.labels(verb=method.lower(), code=str(code)).inc()


def count_api_errors(kube: _kube.Kube) -> None:
    """Count the failed requests of ``kube`` in :data:`API_REQUEST_ERRORS`."""
    kube.error_observer = _observe
