"""What a running UI process holds: settings, the API client, the execution cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, current_app

from kontinue.client import Client, Kube, _kube
from kontinue_ui.cache import ExecutionCache
from kontinue_ui.settings import Settings


@dataclass
class UiState:
    """The UI's shared objects, one per process (``app.extensions["kontinue"]``)."""

    settings: Settings
    kube: Kube
    cache: ExecutionCache
    namespaces: tuple[str, ...] | None
    """The namespaces in scope; None when cluster-wide."""

    @property
    def client(self) -> Client:
        """A client acting as the UI itself (reads)."""
        return Client(kube=self.kube)

    def in_scope(self, namespace: str) -> bool:
        """True when the UI serves ``namespace``."""
        return self.namespaces is None or namespace in self.namespaces

    def check_scope(self, namespace: str) -> None:
        """Answer 404 for a namespace the UI does not serve."""
        if not self.in_scope(namespace):
            abort(404, f"namespace {namespace} is not served by this UI")

    def list_in_scope(self, resource: _kube.Resource) -> list[dict[str, Any]]:
        """Every object of ``resource`` in the namespaces the UI serves."""
        scopes: tuple[str | None, ...] = self.namespaces if self.namespaces else (None,)
        items: list[dict[str, Any]] = []
        for scope in scopes:
            items += self.kube.list(resource, scope)["items"]
        return items

    @property
    def default_namespace(self) -> str:
        """Where new executions go when the form does not say."""
        return self.namespaces[0] if self.namespaces else self.kube.default_namespace


def ui_state() -> UiState:
    """The current app's :class:`UiState`."""
    state: UiState = current_app.extensions["kontinue"]
    return state
