"""The Helm chart installed for real, and the objects tests aim at what it installed.

:class:`Release` describes one ``helm install`` of ``charts/kontinue``: its namespaces, its
components' ServiceAccounts and the user names the API server gives them, and the objects Helm
installed. The ``install_chart`` fixture of ``tests/security`` makes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kontinue.client import Kube
from kontinue_testkit.standin import deployments

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kontinue"


@dataclass
class Release:
    """One installed release of the chart."""

    name: str
    namespace: str
    """The release namespace: the components' ServiceAccounts live here."""
    workflows: str
    """The (first) namespace workflows run in."""
    objects: list[dict[str, Any]] = field(default_factory=list)
    """What Helm installed (``helm get manifest``)."""

    @property
    def fullname(self) -> str:
        """The chart's base name of every object."""
        return self.name if "kontinue" in self.name else f"{self.name}-kontinue"

    def service_account(self, component: str) -> str:
        """The ServiceAccount of ``controller``, ``worker``, ``ui`` (or ``job``: job pods)."""
        return f"{self.fullname}-{component}"

    def user(self, component: str) -> str:
        """The user name the API server gives a component's ServiceAccount."""
        return f"system:serviceaccount:{self.namespace}:{self.service_account(component)}"

    def deployment(self, component: str) -> dict[str, Any]:
        """A component's Deployment as installed."""
        return deployments(self.objects)[component]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """The installed objects of one kind."""
        return [o for o in self.objects if o["kind"] == kind]


InstallChart = Callable[..., Release]
"""``install_chart("key=value", ..., workflows=None)``: a release in the test's namespace."""

OwnToken = Callable[[Release, str], Kube]
"""``own_token(release, component)``: a client with the ServiceAccount's own token."""


def job_manifest(
    name: str,
    service_account: str | None,
    *,
    pod: Mapping[str, Any] | None = None,
    container: Mapping[str, Any] | None = None,
    suspend: bool = False,
) -> dict[str, Any]:
    """A batch/v1 Job of one container, its pod running as ``service_account``."""
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [
            {"name": "c", "image": "alpine:3", "command": ["true"], **(container or {})}
        ],
        **(pod or {}),
    }
    if service_account is not None:
        spec["serviceAccountName"] = service_account
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"suspend": suspend, "backoffLimit": 0, "template": {"spec": spec}},
    }
