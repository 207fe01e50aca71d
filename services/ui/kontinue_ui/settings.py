"""What one UI process is configured with (from the command line or the app factory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AuthMode(StrEnum):
    """Who the UI believes a visitor is.

    - ``none``: nobody is authenticated. Every visitor reads with the UI's own rights, and the
      UI is read-only unless ``anonymous_actions`` says otherwise.
    - ``proxy``: an authenticating proxy (oauth2-proxy, an ingress with external auth) names
      the user and groups in headers and proves it is the proxy with a shared secret; the UI
      acts and reads as that user through Kubernetes impersonation.
    - ``token``: the proxy passes the user's own bearer token (an OIDC ID token the API server
      accepts) in ``Authorization``; the UI acts and reads with it, as the Kubernetes
      dashboard does. The UI then needs no impersonation right at all.
    """

    NONE = "none"
    PROXY = "proxy"
    TOKEN = "token"


DEFAULT_PROXY_SECRET_HEADER = "X-Kontinue-Proxy-Secret"
MIN_PROXY_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Settings:
    """The UI's configuration.

    Attributes:
        namespaces: the namespaces shown; empty with ``all_namespaces`` False means the
            kubeconfig context's namespace.
        all_namespaces: cluster-wide operation.
        auth: how visitors are authenticated (:class:`AuthMode`).
        read_only: no actions even for authenticated users (every POST is refused with 403).
        anonymous_actions: with ``auth`` ``none``, let anyone who reaches the UI act with the
            UI's own rights (only for a UI nobody else can reach, as ``kontinue dev``'s).
        proxy_secret: with ``auth`` ``proxy``, the secret the proxy sends in
            ``proxy_secret_header``; identity headers count only on requests that carry it.
        proxy_secret_header: the header carrying ``proxy_secret``.
        user_header: the header naming the user (set only by the auth proxy).
        groups_header: the header naming the user's groups (comma-separated).
        proxy_groups: the groups the UI may act as; others the proxy names are ignored (None:
            any group; ``system:`` groups are refused either way).
        forwarded_allow_ips: addresses (or networks) whose ``X-Forwarded-*`` headers (proto,
            host, port, prefix, for) are honoured; empty: none are.
        kubeconfig: kubeconfig file (default: ``$KUBECONFIG``, ``~/.kube/config`` or in-cluster).
        context: kubeconfig context.
        secret_key: signs the session cookie and CSRF tokens; all processes behind one address
            must share it.
        csrf_time_limit: seconds a form's CSRF token stays valid.
        max_content_length: the largest request body accepted (bytes; larger ones get 413).
        page_size: executions per list page.
        refresh_seconds: how often an open page asks whether what it shows has changed (the
            answer comes from the watch-fed cache, never from the API server).
    """

    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    auth: AuthMode = AuthMode.NONE
    read_only: bool = False
    anonymous_actions: bool = False
    proxy_secret: str = field(default="", repr=False)
    proxy_secret_header: str = DEFAULT_PROXY_SECRET_HEADER
    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"
    proxy_groups: tuple[str, ...] | None = None
    forwarded_allow_ips: tuple[str, ...] = ()
    kubeconfig: str | None = None
    context: str | None = None
    secret_key: str = field(default="", repr=False)
    csrf_time_limit: int = 4 * 3600
    max_content_length: int = 1024 * 1024
    page_size: int = 50
    refresh_seconds: float = 2.0

    def __post_init__(self) -> None:
        """Refuse a configuration that would trust what it must not."""
        object.__setattr__(self, "auth", AuthMode(self.auth))
        if self.auth == AuthMode.PROXY and len(self.proxy_secret) < MIN_PROXY_SECRET_LENGTH:
            raise ValueError(
                "auth mode proxy needs the proxy's shared secret (at least "
                f"{MIN_PROXY_SECRET_LENGTH} characters): without it anyone could send the "
                "identity headers"
            )
        if self.anonymous_actions and self.auth != AuthMode.NONE:
            raise ValueError("anonymous actions only make sense without an auth mode")

    @property
    def actions_enabled(self) -> bool:
        """Whether the UI offers and accepts actions (start, cancel, resume, trigger)."""
        if self.read_only:
            return False
        return self.auth != AuthMode.NONE or self.anonymous_actions
