"""Writing kubeconfig files for the local control plane (certificates embedded)."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def render_kubeconfig(
    *,
    server: str,
    ca_cert: Path,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    token: str | None = None,
    cluster_name: str = "kontinue-local",
    user_name: str = "kontinue-admin",
    namespace: str | None = None,
) -> str:
    """Render a single-context kubeconfig as YAML text.

    Give either a client certificate and key or a bearer token.
    """
    if token is None and (client_cert is None or client_key is None):
        raise ValueError("a kubeconfig needs a client certificate and key, or a token")
    user: dict[str, str] = {}
    if token is not None:
        user["token"] = token
    else:
        assert client_cert is not None and client_key is not None
        user["client-certificate-data"] = _b64(client_cert)
        user["client-key-data"] = _b64(client_key)
    context: dict[str, str] = {"cluster": cluster_name, "user": user_name}
    if namespace:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_cert)},
            }
        ],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": cluster_name, "context": context}],
        "current-context": cluster_name,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)
