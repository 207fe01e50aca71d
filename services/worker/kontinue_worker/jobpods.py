"""What the worker fills in on the pods of a job step when the workflow leaves it out.

A job step's pods run as the ServiceAccount the operator chose for them (``--job-service-account``,
the chart's ``<release>-job``, which has no rights) unless the workflow names one, and without a
mounted API token unless the workflow or ``--job-automount-token`` asks for one. Which
ServiceAccounts a workflow may name, and that no pod is privileged or reaches the host, is not
decided here but in the cluster: the chart's ValidatingAdmissionPolicy refuses any other Job
the worker's ServiceAccount creates, and the step fails with the policy's message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobPodDefaults:
    """Defaults for the pod template of every Job a worker creates."""

    service_account: str | None = None
    """ServiceAccount of pods whose spec names none (None: the namespace's ``default``)."""
    automount_token: bool = False
    """``automountServiceAccountToken`` of pods whose spec does not say."""

    def apply(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``spec`` (a Job spec) with the defaults filled in; the caller's copy is untouched."""
        job_spec = dict(spec)
        template = dict(job_spec.get("template") or {})
        pod = dict(template.get("spec") or {})
        named = pod.get("serviceAccountName") or pod.get("serviceAccount")
        if self.service_account and not named:
            pod["serviceAccountName"] = self.service_account
        pod.setdefault("automountServiceAccountToken", self.automount_token)
        template["spec"] = pod
        job_spec["template"] = template
        return job_spec
