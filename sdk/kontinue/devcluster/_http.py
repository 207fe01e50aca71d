"""A minimal HTTPS client for readiness checks against the local control plane.

The launcher deliberately avoids the ``kubernetes`` package: it only needs a handful of
JSON requests while the cluster comes up, authenticated with the admin client certificate.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Response:
    """Status code and body of one request."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


class ApiServer:
    """Talks to one kube-apiserver with a client certificate."""

    def __init__(self, server: str, ca_cert: Path, client_cert: Path, client_key: Path) -> None:
        self.server = server.rstrip("/")
        self._context = ssl.create_default_context(cafile=str(ca_cert))
        self._context.load_cert_chain(str(client_cert), str(client_key))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        timeout: float = 5.0,
        content_type: str = "application/json",
    ) -> Response:
        """Send one request; HTTP errors come back as a response, not an exception."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._context, timeout=timeout) as resp:
                return Response(resp.status, resp.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read())

    def stream(self, path: str, timeout: float) -> Iterator[Any]:
        """The JSON lines of a streaming request (a watch), until the server ends it.

        Raises:
            OSError: the connection failed or broke.
        """
        req = urllib.request.Request(self.server + path)
        with urllib.request.urlopen(req, context=self._context, timeout=timeout) as resp:
            for line in resp:
                if line.strip():
                    yield json.loads(line)


def probe(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200 (TLS certificates are not verified: health probes only)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False
