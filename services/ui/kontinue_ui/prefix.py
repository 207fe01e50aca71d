"""Serving under a path prefix (``/kontinue`` behind an ingress), whether or not it is stripped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class PathPrefix:
    """WSGI middleware: requests under ``prefix`` are served with it as ``SCRIPT_NAME``.

    Every URL the app builds then starts with the prefix. Requests an ingress already stripped
    (no prefix on the path) are served too, with the same links.
    """

    def __init__(self, app: WSGIApplication, prefix: str) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[Any]:
        """Move the prefix from ``PATH_INFO`` to ``SCRIPT_NAME``."""
        path = environ.get("PATH_INFO", "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            environ["PATH_INFO"] = path[len(self.prefix) :] or "/"
        environ["SCRIPT_NAME"] = self.prefix
        return self.app(environ, start_response)
