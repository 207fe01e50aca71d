"""Health endpoints: ``/healthz`` (the process answers) and ``/readyz`` (the cache is synced)."""

from __future__ import annotations

from flask import Blueprint

from kontinue_ui.state import ui_state

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> tuple[str, int]:
    """Liveness: the process serves requests."""
    return "ok\n", 200


@blueprint.get("/readyz")
def readyz() -> tuple[str, int]:
    """Readiness: the execution cache has listed every namespace in scope."""
    cache = ui_state().cache
    if cache.synced:
        return "ok\n", 200
    return f"execution cache not synced yet{': ' + cache.error if cache.error else ''}\n", 503
