"""Each component may do only what it needs, proven against the real API server.

The chart is installed for real (cluster mode, the broadest: ClusterRoles; the UI with
anonymous actions, so it holds write rights too), then every operation below is made as the
component's ServiceAccount (impersonation by the admin, or the ServiceAccount's own token where
the operation is itself an impersonation). Each forbidden one must be refused, by RBAC (403)
or by one of the chart's ValidatingAdmissionPolicies (422 naming the policy), and change
nothing; the allowed counterparts of the policy-guarded ones must succeed, so the refusals are
about the object, not the verb. A table of the outcomes is printed.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from kontinue.api import labels, manifests, names, timestamps
from kontinue.client import Client, Kube, kubeapi
from kontinue_testkit.chart import InstallChart, OwnToken, Release, job_manifest
from kontinue_testkit.pytest_plugin import TestCluster

MERGE = kubeapi.MERGE_PATCH
CORE, BATCH = "/api/v1", "/apis/batch/v1"
LEASES, GROUP = "/apis/coordination.k8s.io/v1", "/apis/kontinue.cloud/v1alpha1"


@dataclass(frozen=True)
class Op:
    """One API request made as a component."""

    component: str
    what: str
    method: str
    path: str
    body: Any = None
    content_type: str | None = None
    by: str = "rbac"
    """Who must refuse it: ``rbac`` (403) or ``policy`` (a ValidatingAdmissionPolicy)."""
    as_itself: bool = False
    """Made with the ServiceAccount's own token (for requests that impersonate in turn)."""
    impersonate: tuple[str, ...] = ()
    """With ``as_itself``: the user (and groups) the request impersonates."""


def _patch(component: str, what: str, path: str, body: Any, by: str = "rbac") -> Op:
    return Op(component, what, "PATCH", path, body, MERGE, by)


def _object(kind: str, api: str, name: str, **rest: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name}, **rest}


def _lease(name: str, group: str | None = None) -> dict[str, Any]:
    lease = _object("Lease", "coordination.k8s.io/v1", name, spec={"holderIdentity": "someone"})
    if group is not None:
        lease["metadata"]["labels"] = {labels.WORKER_GROUP: group}
    return lease


def _seed(admin: Kube, release: Release, victim: str) -> None:
    """The objects the operations aim at, created by the admin."""
    ns, wf = release.namespace, release.workflows
    admin.create(kubeapi.LEASES, "kube-system", _lease(victim))
    admin.create(kubeapi.LEASES, ns, _lease(release.service_account("controller")))
    for lease in (
        _lease("not-a-worker"),
        _lease("kontinue-worker-a", "default"),
        _lease("kontinue-worker-b", "other"),
    ):
        admin.create(kubeapi.LEASES, wf, lease)
    admin.create(kubeapi.JOBS, wf, job_manifest("foreign", "default", suspend=True))
    kjob = job_manifest("kjob", "default", suspend=True)
    kjob["metadata"]["labels"] = {labels.PARENT: "mine"}
    admin.create(kubeapi.JOBS, wf, kjob)
    for name, group in (("mine", "default"), ("theirs", "other")):
        admin.create(
            kubeapi.EXECUTIONS, wf, manifests.execution_manifest("f", name=name, worker_group=group)
        )
    admin.create(kubeapi.SUSPENSIONS, wf, _object("Suspension", "kontinue.cloud/v1alpha1",
                                                "approval", spec={}))  # fmt: skip
    admin.create(kubeapi.SUSPENSIONS, wf, _object(
        "Suspension", "kontinue.cloud/v1alpha1", "nap",
        spec={"resumeAt": "2099-01-01T00:00:00Z"},
    ))  # fmt: skip
    admin.create(kubeapi.FUNCTIONS, wf, _object(
        "Function", "kontinue.cloud/v1alpha1", names.function_object_name("fn", "other"),
        spec={"name": "fn", "workerGroup": "other"},
    ))  # fmt: skip
    chunk = _object("ConfigMap", "v1", "mine-journal-0", data={"steps": "{}"})
    chunk["metadata"]["labels"] = {labels.JOURNAL: "mine"}
    admin.create(kubeapi.CONFIGMAPS, wf, chunk)
    secret = _object("Secret", "v1", "creds", stringData={"token": "s3cret"})
    admin.create(kubeapi.Resource(CORE, "secrets"), ns, secret)
    admin.create(kubeapi.Resource(CORE, "secrets"), wf, secret)
    admin.create(kubeapi.SCHEDULED_EXECUTIONS, wf, _object(
        "ScheduledExecution", "kontinue.cloud/v1alpha1", "nightly",
        spec={"schedule": "0 3 * * *", "function": "f", "suspend": True},
    ))  # fmt: skip


def _resume(by: str) -> dict[str, Any]:
    return {"status": {"phase": "Completed", "finishedAt": timestamps.now(), "resumedBy": by}}


def _forbidden(release: Release, victim: str) -> list[Op]:
    ns, wf = release.namespace, release.workflows
    leader = release.service_account("controller")
    c, w, u = "controller", "worker", "ui"
    return [
        # -- the controller
        Op(c, "delete a Lease in kube-system", "DELETE",
           f"{LEASES}/namespaces/kube-system/leases/{victim}", by="policy"),
        Op(c, "delete a Lease that is no worker's", "DELETE",
           f"{LEASES}/namespaces/{wf}/leases/not-a-worker", by="policy"),
        _patch(c, "renew (patch) a worker's Lease", f"{LEASES}/namespaces/{wf}/leases/"
               "kontinue-worker-a", {"spec": {"holderIdentity": "controller"}}),
        _patch(c, "suspend a Job of no execution", f"{BATCH}/namespaces/{wf}/jobs/foreign",
               {"spec": {"suspend": False}}, "policy"),
        _patch(c, "relabel an execution's Job", f"{BATCH}/namespaces/{wf}/jobs/kjob",
               {"metadata": {"labels": {labels.PARENT: None}}}, "policy"),
        Op(c, "delete a Job", "DELETE", f"{BATCH}/namespaces/{wf}/jobs/kjob"),
        Op(c, "create a Job", "POST", f"{BATCH}/namespaces/{wf}/jobs",
           job_manifest("c-job", "default")),
        Op(c, "create a Pod", "POST", f"{CORE}/namespaces/{wf}/pods", _pod("c-pod")),
        Op(c, "read a ConfigMap of kube-system", "GET",
           f"{CORE}/namespaces/kube-system/configmaps/kube-root-ca.crt"),
        Op(c, "list every ConfigMap of the cluster", "GET", f"{CORE}/configmaps"),
        Op(c, "read a Secret of the release namespace", "GET",
           f"{CORE}/namespaces/{ns}/secrets/creds"),
        _patch(c, "approve a person's Suspension (resumedBy: timer)",
               f"{GROUP}/namespaces/{wf}/suspensions/approval/status", _resume("timer"),
               "policy"),
        _patch(c, "change a Suspension's spec", f"{GROUP}/namespaces/{wf}/suspensions/nap",
               {"spec": {"resumeAt": "2000-01-01T00:00:00Z"}}),
        Op(c, "impersonate a user", "GET", f"{GROUP}/namespaces/{wf}/executions",
           as_itself=True, impersonate=("alice",)),
        # -- the workers
        _patch(w, "take the controller's leader Lease",
               f"{LEASES}/namespaces/{ns}/leases/{leader}", {"spec": {"holderIdentity": "w"}}),
        _patch(w, "renew another group's worker Lease",
               f"{LEASES}/namespaces/{wf}/leases/kontinue-worker-b",
               {"spec": {"holderIdentity": "w"}}, "policy"),
        Op(w, "delete a Lease that is no worker's", "DELETE",
           f"{LEASES}/namespaces/{wf}/leases/not-a-worker", by="policy"),
        Op(w, "create a Lease that is no worker's", "POST", f"{LEASES}/namespaces/{wf}/leases",
           _lease("kontinue-controller"), by="policy"),
        _patch(w, "move its Lease to another group",
               f"{LEASES}/namespaces/{wf}/leases/kontinue-worker-a",
               {"metadata": {"labels": {labels.WORKER_GROUP: "other"}}}, "policy"),
        _patch(w, "write the status of another group's execution",
               f"{GROUP}/namespaces/{wf}/executions/theirs/status",
               {"status": {"phase": "Completed"}}, "policy"),
        Op(w, "create an execution for another group", "POST",
           f"{GROUP}/namespaces/{wf}/executions",
           manifests.execution_manifest("f", name="w-child", worker_group="other"), by="policy"),
        _patch(w, "change an execution's spec", f"{GROUP}/namespaces/{wf}/executions/mine",
               {"spec": {"cancel": True}}),
        Op(w, "delete an execution", "DELETE", f"{GROUP}/namespaces/{wf}/executions/mine"),
        Op(w, "create a Job running as a user-chosen ServiceAccount", "POST",
           f"{BATCH}/namespaces/{wf}/jobs", job_manifest("w-sa", "default"), by="policy"),
        Op(w, "create a Job with a privileged container", "POST",
           f"{BATCH}/namespaces/{wf}/jobs",
           job_manifest("w-priv", release.service_account("job"),
                        container={"securityContext": {"privileged": True}}), by="policy"),
        Op(w, "create a Job mounting a hostPath", "POST", f"{BATCH}/namespaces/{wf}/jobs",
           job_manifest("w-host", release.service_account("job"),
                        pod={"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}),
           by="policy"),
        Op(w, "create a Job in the host's network namespace", "POST",
           f"{BATCH}/namespaces/{wf}/jobs",
           job_manifest("w-net", release.service_account("job"), pod={"hostNetwork": True}),
           by="policy"),
        Op(w, "create a Job in the host's PID namespace", "POST",
           f"{BATCH}/namespaces/{wf}/jobs",
           job_manifest("w-pid", release.service_account("job"), pod={"hostPID": True}),
           by="policy"),
        Op(w, "create a Job adding CAP_SYS_ADMIN", "POST", f"{BATCH}/namespaces/{wf}/jobs",
           job_manifest("w-cap", release.service_account("job"), container={
               "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}), by="policy"),
        Op(w, "create a Pod", "POST", f"{CORE}/namespaces/{wf}/pods", _pod("w-pod")),
        Op(w, "read a Secret", "GET", f"{CORE}/namespaces/{wf}/secrets/creds"),
        Op(w, "create a ConfigMap that is no journal chunk", "POST",
           f"{CORE}/namespaces/{wf}/configmaps", _object("ConfigMap", "v1", "w-cm"),
           by="policy"),
        _patch(w, "rewrite a journal chunk", f"{CORE}/namespaces/{wf}/configmaps/mine-journal-0",
               {"data": {"steps": '{"forged": 1}'}}),
        Op(w, "delete a journal chunk", "DELETE",
           f"{CORE}/namespaces/{wf}/configmaps/mine-journal-0"),
        _patch(w, "approve a Suspension", f"{GROUP}/namespaces/{wf}/suspensions/approval/status",
               _resume(release.user("worker"))),
        _patch(w, "write another group's Function status",
               f"{GROUP}/namespaces/{wf}/functions/{names.function_object_name('fn', 'other')}"
               "/status", {"status": {"workers": []}}, "policy"),
        Op(w, "exec into a pod", "POST", f"{CORE}/namespaces/{wf}/pods/any/exec"),
        # -- the UI (anonymous actions: it acts with its own rights)
        _patch(u, "change an execution's arguments", f"{GROUP}/namespaces/{wf}/executions/mine",
               {"spec": {"arguments": {"forged": True}}}, "policy"),
        _patch(u, "relabel an execution", f"{GROUP}/namespaces/{wf}/executions/mine",
               {"metadata": {"labels": {labels.WORKER_GROUP: "other"}}}, "policy"),
        _patch(u, "take a cancellation back", f"{GROUP}/namespaces/{wf}/executions/mine",
               {"spec": {"cancel": False}}, "policy"),
        Op(u, "delete an execution", "DELETE", f"{GROUP}/namespaces/{wf}/executions/mine"),
        _patch(u, "write an execution's status", f"{GROUP}/namespaces/{wf}/executions/mine/status",
               {"status": {"phase": "Completed"}}),
        _patch(u, "approve a Suspension in someone else's name",
               f"{GROUP}/namespaces/{wf}/suspensions/approval/status", _resume("release-manager"),
               "policy"),
        _patch(u, "change a schedule's function", f"{GROUP}/namespaces/{wf}/scheduledexecutions/"
               "nightly", {"spec": {"function": "other"}}, "policy"),
        Op(u, "read pod logs in the release namespace", "GET",
           f"{CORE}/namespaces/{ns}/pods/any/log"),
        Op(u, "read pod logs in kube-system", "GET", f"{CORE}/namespaces/kube-system/pods/any/log"),
        Op(u, "read a Secret", "GET", f"{CORE}/namespaces/{ns}/secrets/creds"),
        Op(u, "create a Job", "POST", f"{BATCH}/namespaces/{wf}/jobs",
           job_manifest("u-job", release.service_account("job"))),
        Op(u, "impersonate a user", "GET", f"{GROUP}/namespaces/{wf}/executions",
           as_itself=True, impersonate=("alice",)),
    ]  # fmt: skip


def _allowed(release: Release) -> list[Op]:
    """The policy-guarded verbs on the component's own objects: these must work."""
    wf = release.workflows
    c, w, u = "controller", "worker", "ui"
    return [
        Op(c, "suspend an execution's Job", "PATCH", f"{BATCH}/namespaces/{wf}/jobs/kjob",
           {"spec": {"suspend": True}}, MERGE),
        Op(c, "end a sleep (resumedBy: timer)", "PATCH",
           f"{GROUP}/namespaces/{wf}/suspensions/nap/status", _resume("timer"), MERGE),
        Op(c, "delete a lapsed worker's Lease", "DELETE",
           f"{LEASES}/namespaces/{wf}/leases/kontinue-worker-a"),
        Op(w, "create its worker Lease", "POST", f"{LEASES}/namespaces/{wf}/leases",
           _lease("kontinue-worker-mine", "default")),
        Op(w, "renew its worker Lease", "PATCH",
           f"{LEASES}/namespaces/{wf}/leases/kontinue-worker-mine",
           {"spec": {"holderIdentity": "me"}}, MERGE),
        Op(w, "write the status of its group's execution", "PATCH",
           f"{GROUP}/namespaces/{wf}/executions/mine/status", {"status": {"message": "ok"}},
           MERGE),
        Op(w, "create a Job as the job ServiceAccount", "POST", f"{BATCH}/namespaces/{wf}/jobs",
           job_manifest("w-ok", release.service_account("job"), suspend=True)),
        Op(w, "create a journal chunk", "POST", f"{CORE}/namespaces/{wf}/configmaps",
           {**_object("ConfigMap", "v1", "mine-journal-1"),
            "metadata": {"name": "mine-journal-1", "labels": {labels.JOURNAL: "mine"}}}),
        Op(u, "cancel an execution", "PATCH", f"{GROUP}/namespaces/{wf}/executions/mine",
           {"spec": {"cancel": True}}, MERGE),
        Op(u, "approve a Suspension in its own name", "PATCH",
           f"{GROUP}/namespaces/{wf}/suspensions/approval/status", _resume(release.user("ui")),
           MERGE),
        Op(u, "unsuspend a schedule", "PATCH",
           f"{GROUP}/namespaces/{wf}/scheduledexecutions/nightly", {"spec": {"suspend": False}},
           MERGE),
    ]  # fmt: skip


def _pod(name: str) -> dict[str, Any]:
    return _object("Pod", "v1", name, spec={"containers": [{"name": "c", "image": "alpine:3"}]})


def _client_for(op: Op, admin: Kube, release: Release, own: OwnToken) -> Kube:
    if op.as_itself:
        kube = own(release, op.component)
        return kube.impersonating(op.impersonate[0], op.impersonate[1:]) if op.impersonate else kube
    return admin.impersonating(release.user(op.component))


def _request(kube: Kube, op: Op) -> Any:
    return kube.request(op.method, op.path, body=op.body, content_type=op.content_type)


def _snapshot(admin: Kube, release: Release, victim: str) -> str:
    """What the refused operations aimed at, to check that nothing changed."""
    wf = release.workflows
    parts = [
        admin.get(kubeapi.LEASES, "kube-system", victim),
        admin.get(kubeapi.LEASES, release.namespace, release.service_account("controller")),
        *admin.list(kubeapi.LEASES, wf)["items"],
        *admin.list(kubeapi.JOBS, wf)["items"],
        *admin.list(kubeapi.EXECUTIONS, wf)["items"],
        *admin.list(kubeapi.SUSPENSIONS, wf)["items"],
        *admin.list(kubeapi.CONFIGMAPS, wf, label_selector=labels.JOURNAL)["items"],
        *admin.list(kubeapi.SCHEDULED_EXECUTIONS, wf)["items"],
    ]
    return json.dumps(
        sorted((p["metadata"]["name"], p["metadata"]["resourceVersion"]) for p in parts)
    )


def test_each_component_is_denied_what_it_does_not_need(
    install_chart: InstallChart, admin: Kube, own_token: OwnToken
) -> None:
    release = install_chart("scope.mode=cluster", "ui.auth.anonymousActions=true")
    victim = f"victim-{secrets.token_hex(3)}"
    _seed(admin, release, victim)
    own = own_token
    try:
        before = _snapshot(admin, release, victim)
        outcomes: list[tuple[str, str, str, str]] = []
        for op in _forbidden(release, victim):
            kube = _client_for(op, admin, release, own)
            with pytest.raises(kubeapi.ApiError) as refused:
                _request(kube, op)
            error = refused.value
            outcomes.append((op.component, op.what, str(error.status), error.message[:110]))
            if op.by == "policy":
                assert error.status == 422, (op, error)
                assert "ValidatingAdmissionPolicy" in error.message, (op, error)
                assert f"{release.fullname}.{release.namespace}." in error.message, (op, error)
            else:
                assert error.status == 403, (op, error)
                assert "cannot" in error.message, (op, error)
        assert _snapshot(admin, release, victim) == before  # nothing was changed
        for op in _allowed(release):
            _request(_client_for(op, admin, release, own), op)
    finally:
        admin.delete(kubeapi.LEASES, "kube-system", victim)

    width = max(len(o[1]) for o in outcomes)
    print(f"\n{len(outcomes)} forbidden operations, each refused:")
    for component, what, status, message in outcomes:
        print(f"  {component:<10} {what:<{width}}  {status}  {message}")
    per_component = {
        c: sum(1 for o in outcomes if o[0] == c) for c in ("controller", "worker", "ui")
    }
    print(f"per ServiceAccount: {per_component}; allowed counterparts: {len(_allowed(release))}")
    assert len({(o[0], o[1]) for o in outcomes}) >= 20
    assert min(per_component.values()) >= 10


def test_the_ui_may_impersonate_only_users_and_the_listed_groups(
    install_chart: InstallChart, admin: Kube, own_token: OwnToken, kube_cluster: TestCluster
) -> None:
    """Proxy mode: the impersonation ClusterRole and nothing more."""
    first = install_chart()  # the namespace the workflows run in
    release = install_chart(
        "ui.auth.mode=proxy",
        f"ui.auth.proxy.secret.value={secrets.token_hex(16)}",
        "ui.auth.proxy.groups={release-managers}",
        f"scope.namespaces={{{first.workflows}}}",
        workflows=first.workflows,
    )
    kube_cluster.wait_allowed(
        release.user("ui"), "impersonate", "groups/release-managers", release.workflows
    )
    ui = own_token(release, "ui")
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"namespace": release.workflows, "verb": "list",
                                              "group": "kontinue.cloud",
                                              "resource": "executions"}}}  # fmt: skip
    # allowed: a user, with a group the chart lists
    ui.impersonating("alice", ["release-managers"]).create(
        kubeapi.SELF_SUBJECT_ACCESS_REVIEWS, None, review
    )
    refused = {
        "impersonate system:masters": ui.impersonating("alice", ["system:masters"]),
        "impersonate a group the chart does not list": ui.impersonating("alice", ["ops"]),
        "impersonate a ServiceAccount": ui.impersonating(
            f"system:serviceaccount:{release.namespace}:{release.service_account('controller')}"
        ),
    }
    for what, kube in refused.items():
        with pytest.raises(kubeapi.Forbidden, match="cannot impersonate"):
            kube.create(kubeapi.SELF_SUBJECT_ACCESS_REVIEWS, None, review)
        print(f"ui: {what}: refused")
    # with an auth mode the UI itself can write nothing and read no logs: users act as themselves
    itself = Client(kube=admin.impersonating(release.user("ui")), namespace=release.workflows)
    admin.create(kubeapi.EXECUTIONS, release.workflows, manifests.execution_manifest("f", name="x"))
    with pytest.raises(kubeapi.Forbidden):
        itself.cancel("x")
    with pytest.raises(kubeapi.Forbidden):
        itself.kube.pod_log(release.workflows, "any", container=None, tail_lines=1)
    assert itself.get("x")["spec"].get("cancel") is not True
