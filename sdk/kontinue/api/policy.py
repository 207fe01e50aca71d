"""The effective retry and timeout policy of an execution.

Each field comes from the Execution's own ``spec.retry`` / ``spec.timeout`` when it sets it,
else from its function's registered defaults (``@kontinue.function(retry=..., timeout=...)``,
also written into the Function object), else from the built-in defaults (no retries, a 5s
backoff, child policy ``None``, no time limits). So an Execution created by ``kubectl apply``,
the CLI, the UI, a schedule or a parent gets the same policy for the fields it leaves out.

The policy is resolved once, by the first claim (the worker knows the function it runs), and
recorded in ``status.policy`` in that same claim write, so it costs no write of its own. Later
claims keep it (a redeploy with other defaults does not change an execution under way); the
worker's end of an attempt and the controller's timeouts read it through :func:`of`. An
execution no worker has claimed yet has no recorded policy: :func:`of` then resolves its spec
alone, which is all the controller needs before a first start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BUILTIN_RETRY: Mapping[str, Any] = {"retries": 0, "backoff": "5s", "childPolicy": "None"}
"""The retry fields neither the Execution nor its function set."""

TIMEOUT_FIELDS = ("overall", "attempt")


def resolve(spec: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The policy of an execution with ``spec`` whose function has ``defaults``.

    Args:
        spec: the Execution's spec.
        defaults: the function's ``{"retry": {...}, "timeout": {...}}`` (as in its Function).

    Returns:
        ``{"retry": {retries, backoff, childPolicy}, "timeout": {overall?, attempt?}}``.
    """
    defaults = defaults or {}
    own_retry = spec.get("retry") or {}
    default_retry = defaults.get("retry") or {}
    retry = {
        key: _first(own_retry.get(key), default_retry.get(key), builtin)
        for key, builtin in BUILTIN_RETRY.items()
    }
    own_timeout = spec.get("timeout") or {}
    default_timeout = defaults.get("timeout") or {}
    timeout = {
        key: value
        for key in TIMEOUT_FIELDS
        if (value := _first(own_timeout.get(key), default_timeout.get(key), None)) is not None
    }
    return {"retry": retry, "timeout": timeout}


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def recorded(execution: Mapping[str, Any]) -> bool:
    """Whether a claim has recorded the execution's policy."""
    policy = (execution.get("status") or {}).get("policy")
    return isinstance(policy, Mapping) and bool(policy.get("retry"))


def of(execution: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The execution's recorded policy; before a claim recorded one, its spec over ``defaults``.

    Args:
        execution: the Execution.
        defaults: its function's defaults as its Function object states them, for an
            execution no claim has recorded a policy for yet (the controller knows them from
            the Function; ignored once a policy is recorded).
    """
    spec = execution.get("spec") or {}
    if recorded(execution):
        # the spec's own fields win even over a recorded policy (kubectl edit of a running one)
        return resolve(spec, (execution.get("status") or {})["policy"])
    return resolve(spec, defaults)


def retry_of(
    execution: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{retries, backoff, childPolicy}`` in effect for ``execution``."""
    retry: dict[str, Any] = of(execution, defaults)["retry"]
    return retry


def timeout_of(
    execution: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{overall?, attempt?}`` in effect for ``execution`` (durations as strings)."""
    timeout: dict[str, Any] = of(execution, defaults)["timeout"]
    return timeout


def claim_fields(
    execution: Mapping[str, Any], defaults: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The ``status.policy`` a claim records when none is recorded yet, else nothing.

    Args:
        execution: the Execution being claimed (as the claim saw it).
        defaults: the function's registered defaults (``{"retry": ..., "timeout": ...}``).
    """
    if (execution.get("status") or {}).get("policy"):
        return {}
    return {"policy": resolve(execution.get("spec") or {}, defaults)}


def describe(policy: Mapping[str, Any]) -> str:
    """A short human-readable summary, e.g. ``retries 2 (backoff 1s), attempt timeout 30s``."""
    retry = policy.get("retry") or {}
    parts = []
    retries = int(retry.get("retries") or 0)
    if retries:
        parts.append(f"retries {retries} (backoff {retry.get('backoff') or '5s'})")
    else:
        parts.append("no retries")
    if retry.get("childPolicy") not in (None, "None"):
        parts.append(f"child policy {retry['childPolicy']}")
    timeout = policy.get("timeout") or {}
    if timeout.get("attempt"):
        parts.append(f"attempt timeout {timeout['attempt']}")
    if timeout.get("overall"):
        parts.append(f"overall timeout {timeout['overall']}")
    return ", ".join(parts)
