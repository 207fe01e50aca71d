"""What one UI process is configured with (from the command line or the app factory)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    """The UI's configuration.

    Attributes:
        namespaces: the namespaces shown; empty with ``all_namespaces`` False means the
            kubeconfig context's namespace.
        all_namespaces: cluster-wide operation.
        read_only: no mutating routes (every POST is refused with 403) and no action buttons.
        impersonate: run each action as the user (and groups) the auth proxy names in
            ``user_header``/``groups_header``, through Kubernetes impersonation, so RBAC decides.
        user_header: the trusted header naming the user (set only by the auth proxy).
        groups_header: the trusted header naming the user's groups (comma-separated).
        kubeconfig: kubeconfig file (default: ``$KUBECONFIG``, ``~/.kube/config`` or in-cluster).
        context: kubeconfig context.
        secret_key: signs the session cookie and CSRF tokens; all processes behind one address
            must share it.
        page_size: executions per list page.
        refresh_seconds: how often an open page asks whether what it shows has changed (the
            answer comes from the watch-fed cache, never from the API server).
    """

    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    read_only: bool = False
    impersonate: bool = False
    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"
    kubeconfig: str | None = None
    context: str | None = None
    secret_key: str = field(default="", repr=False)
    page_size: int = 50
    refresh_seconds: float = 2.0
