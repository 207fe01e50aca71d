"""Who an action runs as, and the read-only guard.

With ``impersonate`` on, every state-changing request runs as the user (and groups) that the
trusted auth proxy names in its headers, through Kubernetes impersonation: RBAC decides, and a
request without the user header is refused. Reads go through the UI's own identity (the
watch-fed cache serves every viewer).
"""

from __future__ import annotations

from flask import Flask, abort, request

from kontinue.client import Client
from kontinue_ui.state import ui_state

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_user() -> tuple[str, list[str]] | None:
    """The user and groups the auth proxy named, when impersonation is on."""
    settings = ui_state().settings
    if not settings.impersonate:
        return None
    user = request.headers.get(settings.user_header, "").strip()
    if not user:
        return None
    raw = request.headers.get(settings.groups_header, "")
    groups = [g.strip() for g in raw.split(",") if g.strip()]
    return user, groups


def acting_client() -> Client:
    """A client for a state-changing action: the impersonated user when that is on."""
    state = ui_state()
    if not state.settings.impersonate:
        return state.client
    who = current_user()
    if who is None:
        abort(
            401,
            f"no user: the auth proxy in front of the UI must set {state.settings.user_header}",
        )
    return Client(kube=state.kube.impersonating(*who))


def actor_name() -> str:
    """Who resumed a suspension, as recorded on it."""
    who = current_user()
    return f"ui:{who[0]}" if who else "ui"


def install_read_only_guard(app: Flask) -> None:
    """In read-only mode, refuse every request that could change something (403)."""

    @app.before_request
    def _refuse_mutations() -> None:
        if ui_state().settings.read_only and request.method not in SAFE_METHODS:
            abort(403, "this UI is read-only: actions are turned off")
