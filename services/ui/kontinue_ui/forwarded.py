"""``X-Forwarded-*`` headers, honoured only from the proxies the operator names.

Behind an ingress, the proxy tells the app the scheme, host, port, path prefix and client
address the browser used (``X-Forwarded-Proto``, ``-Host``, ``-Port``, ``-Prefix``, ``-For``).
Anyone can send those headers, so they count only on connections from an address in
``forwarded_allow_ips`` (``$FORWARDED_ALLOW_IPS``); from anywhere else they are removed before
the app sees the request, and with no address configured none are honoured.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED = frozenset(
    f"HTTP_X_FORWARDED_{part}" for part in ("FOR", "PROTO", "HOST", "PORT", "PREFIX")
) | {"HTTP_FORWARDED"}
"""The headers ProxyFix reads (not the auth proxy's identity headers: access.py has those)."""


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and networks (``10.0.0.0/8``, ``127.0.0.1``) from a list or comma-separated text.

    ``*`` means every address. Raises ValueError for anything else.
    """
    networks: list[Network] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            if item == "*":
                networks += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            else:
                networks.append(ipaddress.ip_network(item, strict=False))
    return tuple(networks)


class TrustedForwarded:
    """WSGI middleware: ProxyFix for requests from ``trusted`` peers, the headers dropped else."""

    def __init__(self, app: WSGIApplication, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)

    def _is_trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[Any]:
        """Serve the request with the forwarded headers applied or removed."""
        if self.trusted and self._is_trusted(str(environ.get("REMOTE_ADDR") or "")):
            return self.fixed(environ, start_response)
        for key in _FORWARDED & environ.keys():
            del environ[key]
        return self.app(environ, start_response)
