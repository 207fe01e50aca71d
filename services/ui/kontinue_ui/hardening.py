"""What every response carries to keep a browser safe, and a session cookie fit for TLS.

- ``Content-Security-Policy``: scripts, styles, images and requests from the UI's own origin
  only (no inline script or style: the pages use none), no framing, forms post to the UI only;
  ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors``;
  ``X-Content-Type-Options: nosniff``; ``Referrer-Policy: same-origin``; pages are not stored
  by shared caches (``Cache-Control: no-store``: they show what one user may see), static
  files may be.
- ``Strict-Transport-Security`` and a ``Secure`` session cookie when the request came over
  TLS (directly, or through a trusted proxy's ``X-Forwarded-Proto``).
"""

from __future__ import annotations

from flask import Flask, request
from flask import Response as FlaskResponse
from flask.sessions import SecureCookieSessionInterface

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS_SECONDS = 31536000


class _TlsAwareSessions(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request itself was made over TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """``SESSION_COOKIE_SECURE``, or this request's scheme."""
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def install(app: Flask) -> None:
    """Add the headers to every response and use the TLS-aware session cookie."""
    app.session_interface = _TlsAwareSessions()

    @app.after_request
    def _headers(response: FlaskResponse) -> FlaskResponse:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
        return response
