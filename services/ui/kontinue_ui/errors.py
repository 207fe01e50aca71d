"""Errors as pages a user can act on: API refusals, CSRF failures, bad requests.

The API server's 403, 404, 409 and 422 answers keep their status and show its message (which
names the user, verb and resource for a 403); an unreachable API server is a 503. Nothing here
shows a traceback.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from kontinue.client import ApiError, Unreachable

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    422: "Invalid",
    503: "Kubernetes API unavailable",
}


def _page(status: int, message: str) -> tuple[str, int]:
    title = _TITLES.get(status, "Error")
    return render_template("error.html", status=status, title=title, message=message), status


def register(app: Flask) -> None:
    """Install the error handlers."""

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[str, int]:
        return _page(
            400,
            f"The request was refused: {exc.description} Reload the page and try again "
            "(every action needs the form's CSRF token).",
        )

    @app.errorhandler(ApiError)
    def _api(exc: ApiError) -> tuple[str, int]:
        status = exc.status if exc.status in _TITLES else 502
        if status == 409:
            message = f"Someone changed it first: {exc.message}. Reload and try again."
        else:
            message = exc.message
        log.info("%s %s: API answered %s: %s", request.method, request.path, exc.status, message)
        return _page(status, message)

    @app.errorhandler(Unreachable)
    def _unreachable(exc: Unreachable) -> tuple[str, int]:
        return _page(503, str(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[str, int]:
        return _page(exc.code or 500, exc.description or "")
