"""A browser-like HTTP session with the kontinue UI, for tests that drive its pages and forms."""

from __future__ import annotations

import re
import urllib.parse

import requests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
"""The CSRF token of a form page."""

CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')
"""The CSRF token every page carries in its ``<meta name="csrf-token">`` (forms or not)."""


class UiSession:
    """A browser-like HTTP session with the UI (cookies kept, CSRF tokens read from forms).

    ``headers`` go with every request: what an authenticating proxy adds in front of the UI.
    """

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.headers.update(headers or {})

    def page(self, path: str) -> str:
        """GET a page; it must answer 200."""
        response = self.http.get(self.base + path, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text[-2000:])
        return response.text

    def submit(self, path: str, form_page: str, fields: dict[str, str]) -> str:
        """POST a form (with the CSRF token of ``form_page``); returns the redirect target."""
        token = CSRF.search(self.page(form_page))
        assert token is not None, f"no CSRF token on {form_page}"
        response = self.http.post(
            self.base + path,
            data={"csrf_token": token.group(1), **fields},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 303, (path, response.status_code, response.text[-2000:])
        return urllib.parse.urlparse(response.headers["Location"]).path
