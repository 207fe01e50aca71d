"""What a running UI process holds: settings, the API client, the execution cache."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app

from kontinue.client import Client, Kube, kubeapi
from kontinue.telemetry import api_errors
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
    _own_user: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, settings: Settings, *, kube: Kube | None = None) -> UiState:
        """The state of a UI process configured by ``settings``; its cache is not started.

        ``kube`` is the UI's own API client (default: from the settings' kubeconfig and
        context). The caller starts the cache (``state.cache.start()``) and stops it.
        """
        kube = kube or Kube(settings.kubeconfig, settings.context, user_agent="kontinue-ui")
        kube.error_observer = api_errors.observe_api_error
        namespaces = (
            None if settings.all_namespaces else (settings.namespaces or (kube.default_namespace,))
        )
        return cls(settings, kube, ExecutionCache(kube, namespaces), namespaces)

    @property
    def client(self) -> Client:
        """A client acting as the UI itself."""
        return Client(kube=self.kube)

    def own_user(self) -> str:
        """The user the UI itself authenticates as (asked once, then kept)."""
        with self._lock:
            if self._own_user is None:
                self._own_user = self.client.whoami()
            return self._own_user

    def in_scope(self, namespace: str) -> bool:
        """True when the UI serves ``namespace``."""
        return self.namespaces is None or namespace in self.namespaces

    def check_scope(self, namespace: str) -> None:
        """Answer 404 for a namespace the UI does not serve."""
        if not self.in_scope(namespace):
            abort(404, f"namespace {namespace} is not served by this UI")

    def list_in_scope(
        self, resource: kubeapi.Resource, kube: Kube | None = None
    ) -> list[dict[str, Any]]:
        """Every object of ``resource`` in the namespaces the UI serves that ``kube`` may list.

        ``kube`` is whoever reads (default: the UI itself). Namespaces it may not list are
        left out; when it may list none of them, the API server's 403 is raised.
        """
        kube = kube or self.kube
        scopes: tuple[str | None, ...] = self.namespaces if self.namespaces else (None,)
        if self.namespaces is None:
            try:
                return list(kube.list(resource, None)["items"])
            except kubeapi.Forbidden:  # not cluster-wide: the namespaces executions live in
                scopes = tuple(sorted({s.namespace for s in self.cache.snapshot()}))
        items: list[dict[str, Any]] = []
        refusals: list[kubeapi.Forbidden] = []
        for scope in scopes:
            try:
                items += kube.list(resource, scope)["items"]
            except kubeapi.Forbidden as exc:
                refusals.append(exc)
        if scopes and len(refusals) == len(scopes):
            raise refusals[0]
        return items

    @property
    def default_namespace(self) -> str:
        """Where new executions go when the form does not say."""
        return self.namespaces[0] if self.namespaces else self.kube.default_namespace


def ui_state() -> UiState:
    """The current app's :class:`UiState`."""
    state: UiState = current_app.extensions["kontinue"]
    return state
