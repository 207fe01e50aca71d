"""The kontinue API group, its version and the six resource kinds.

Invariant: these names match the CustomResourceDefinitions in the repository's ``crds/``
directory exactly (a test compares them).
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "kontinue.cloud"
"""API group of every kontinue resource."""

VERSION = "v1alpha1"
"""The served and stored version."""

API_VERSION = f"{GROUP}/{VERSION}"
"""``apiVersion`` value for kontinue objects."""

CATEGORY = "kontinue"
"""``kubectl get kontinue`` lists every kind in this category."""


@dataclass(frozen=True)
class Kind:
    """One custom resource kind: its Kind, plural and short names."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]

    @property
    def crd_name(self) -> str:
        """The CustomResourceDefinition's ``metadata.name``."""
        return f"{self.plural}.{GROUP}"


EXECUTION = Kind("Execution", "executions", "execution", ("ex", "exec"))
SUSPENSION = Kind("Suspension", "suspensions", "suspension", ("susp",))
SCHEDULED_EXECUTION = Kind(
    "ScheduledExecution", "scheduledexecutions", "scheduledexecution", ("sched", "schedex")
)
FUNCTION = Kind("Function", "functions", "function", ("kfn",))
ARCHIVED_EXECUTION = Kind(
    "ArchivedExecution", "archivedexecutions", "archivedexecution", ("arch", "archex")
)
SIGNAL = Kind("Signal", "signals", "signal", ("sig",))

ALL_KINDS: tuple[Kind, ...] = (
    EXECUTION,
    SUSPENSION,
    SCHEDULED_EXECUTION,
    FUNCTION,
    ARCHIVED_EXECUTION,
    SIGNAL,
)
"""Every kontinue kind, in the order the CRD files are installed."""
