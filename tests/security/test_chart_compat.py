"""The chart installs only where it works, and with the rights OpenShift asks for.

- ``kubeVersion``: the workers watch executions through CRD field selectors, on by default from
  Kubernetes 1.31; the chart refuses older clusters instead of installing workers that cannot
  watch.
- Scheduled runs are owned by their schedule with ``blockOwnerDeletion``, which the
  OwnerReferencesPermissionEnforcement admission plugin (OpenShift's default; on in the local
  control plane) allows only to who may ``update`` the schedule's ``finalizers``: the chart's
  controller may, so its scheduled runs are created, and the plugin is shown to be on by a
  user who may create executions but not that.
"""

from __future__ import annotations

from kontinue.client import Client, Kube, kubeapi
from kontinue_testkit.chart import CHART, InstallChart
from kontinue_testkit.pytest_plugin import TestCluster


def test_kube_version(kube_cluster: TestCluster) -> None:
    too_old = kube_cluster.helm(
        "template", "kontinue", str(CHART), "--kube-version", "1.30.9", check=False
    )
    assert too_old.returncode != 0 and "kubeVersion" in too_old.stderr
    kube_cluster.helm("template", "kontinue", str(CHART), "--kube-version", "1.31.0")


def test_the_controller_may_create_scheduled_runs_under_owner_reference_enforcement(
    install_chart: InstallChart, kube_cluster: TestCluster
) -> None:
    release = install_chart()
    admin = Kube(str(kube_cluster.kubeconfig))
    admin.create(
        kubeapi.SCHEDULED_EXECUTIONS,
        release.workflows,
        {
            "apiVersion": "kontinue.cloud/v1alpha1",
            "kind": "ScheduledExecution",
            "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "function": "f"},
        },
    )
    # a user who may create executions and read schedules, but not update their finalizers
    kube_cluster.kubectl(
        "create", "role", "starter", "-n", release.workflows, "--verb=get,list,create",
        "--resource=executions.kontinue.cloud,scheduledexecutions.kontinue.cloud",
    )  # fmt: skip
    kube_cluster.kubectl(
        "create", "rolebinding", "dana-starts", "-n", release.workflows, "--role=starter",
        "--user=dana",
    )  # fmt: skip
    kube_cluster.wait_allowed("dana", "create", "executions.kontinue.cloud", release.workflows)
    dana = Client(kube=admin.impersonating("dana"), namespace=release.workflows)
    try:
        dana.trigger_schedule("nightly")
    except kubeapi.ApiError as exc:
        assert "blockOwnerDeletion" in exc.message, exc
    else:
        raise AssertionError("OwnerReferencesPermissionEnforcement is not on")

    controller = Client(
        kube=admin.impersonating(release.user("controller")), namespace=release.workflows
    )
    # the controller creates each slot's run with the manifest trigger_schedule uses
    run = controller.trigger_schedule("nightly")
    owner = run["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["blockOwnerDeletion"]) == ("ScheduledExecution", True)
