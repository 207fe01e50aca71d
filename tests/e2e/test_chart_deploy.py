"""The Helm chart end to end, on the real local control plane.

- ``helm lint --strict`` and ``helm template`` for each value set in ``charts/kontinue/ci``,
  with what each mode must render (Roles or ClusterRoles, scope flags, job-step and write RBAC,
  impersonation, HPA, monitors, OTEL);
- every rendered object accepted by the API server (server-side dry run);
- install, upgrade and uninstall (nothing of the release is left but the CRDs);
- a workflow with a child and a suspension run by the processes the rendered Deployments
  describe, each with its own ServiceAccount's token (kontinue_testkit.standin), the approval
  given through the UI over HTTP.
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kontinue.devcluster.processes import free_port
from kontinue_testkit.images import image_config
from kontinue_testkit.pytest_plugin import SessionController, TestCluster, wait_for
from kontinue_testkit.standin import ContainerProcess, deployments, image_env
from kontinue_testkit.ui_session import UiSession

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kontinue"
VALUE_SETS = sorted((CHART / "ci").glob("*-values.yaml"))
DOCKERFILES = {
    "controller": ROOT / "services" / "controller" / "Dockerfile",
    "worker": ROOT / "services" / "worker" / "Dockerfile",
    "ui": ROOT / "services" / "ui" / "Dockerfile",
}
EXAMPLE_IMAGE = ROOT / "examples" / "worker-image"
INSTANCE = "app.kubernetes.io/instance"

Objects = list[dict[str, Any]]


def render(cluster: TestCluster, namespace: str, *args: str, release: str = "kontinue") -> Objects:
    """``helm template`` into ``namespace``, decoded."""
    out = cluster.helm("template", release, str(CHART), "--namespace", namespace, *args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def of_kind(objects: Objects, kind: str) -> Objects:
    """The objects of one kind."""
    return [o for o in objects if o["kind"] == kind]


def named(objects: Objects, kind: str, suffix: str) -> dict[str, Any]:
    """The one object of ``kind`` whose name ends with ``suffix``."""
    (found,) = [o for o in of_kind(objects, kind) if o["metadata"]["name"].endswith(suffix)]
    return found


def container(objects: Objects, component: str) -> dict[str, Any]:
    """The container of a component's Deployment."""
    spec = deployments(objects)[component]["spec"]["template"]["spec"]
    first: dict[str, Any] = spec["containers"][0]
    return first


def grants(rules: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(resource, verb) pairs a rule list grants."""
    return {(r, v) for rule in rules for r in rule["resources"] for v in rule["verbs"]}


# -- lint and render ---------------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_helm_lint_and_template_value_sets(kube_cluster: TestCluster, values: Path) -> None:
    out = kube_cluster.helm("lint", "--strict", str(CHART), "-f", str(values)).stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in out
    objects = render(kube_cluster, "kontinue-system", "-f", str(values))
    for obj in objects:
        assert obj["metadata"]["labels"][INSTANCE] == "kontinue", obj["metadata"]
    assert set(deployments(objects)) == {"controller", "worker", "ui"}
    for component in ("controller", "worker", "ui"):
        spec = deployments(objects)[component]["spec"]["template"]["spec"]
        box = spec["containers"][0]
        assert box["command"] == [f"kontinue-{component}"]
        assert box["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert box["resources"]["requests"] and box["livenessProbe"] and box["readinessProbe"]
        assert spec["serviceAccountName"].endswith(f"-{component}")
    controller = deployments(objects)["controller"]
    assert controller["spec"]["replicas"] == 2
    assert "--lease-name=kontinue-controller" in container(objects, "controller")["args"]
    assert of_kind(objects, "PodDisruptionBudget")
    _check_value_set(values.name, objects)


def _check_value_set(name: str, objects: Objects) -> None:
    controller_args = container(objects, "controller")["args"]
    worker_args = container(objects, "worker")["args"]
    ui_args = container(objects, "ui")["args"]
    cluster_roles = {o["metadata"]["name"] for o in of_kind(objects, "ClusterRole")}
    user_roles = {"kontinue.kontinue-system.view", "kontinue.kontinue-system.edit"}
    assert len(of_kind(objects, "NetworkPolicy")) == 3
    policies = {o["metadata"]["name"] for o in of_kind(objects, "ValidatingAdmissionPolicy")}
    bindings = {
        o["spec"]["policyName"] for o in of_kind(objects, "ValidatingAdmissionPolicyBinding")
    }
    assert policies == bindings and "kontinue.kontinue-system.resume-identity" in policies
    if name == "namespaced-values.yaml":
        assert cluster_roles == user_roles
        assert "--namespace=kontinue-system-workflows" in controller_args
        assert "--namespace=kontinue-system-workflows" in ui_args
        (namespace,) = of_kind(objects, "Namespace")
        assert namespace["metadata"]["name"] == "kontinue-system-workflows"
        assert namespace["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
        worker_role = named(objects, "Role", "-worker")
        assert worker_role["metadata"]["namespace"] == "kontinue-system-workflows"
        assert ("jobs", "create") in grants(worker_role["rules"])
        assert ("pods/log", "get") in grants(worker_role["rules"])
        assert "--no-job-steps" not in worker_args
        assert "--job-service-account=kontinue-job" in worker_args
        (job_account,) = [
            o for o in of_kind(objects, "ServiceAccount") if o["metadata"]["name"] == "kontinue-job"
        ]
        assert job_account["metadata"]["namespace"] == "kontinue-system-workflows"
        assert job_account["automountServiceAccountToken"] is False
        # no auth mode: a read-only UI, without write RBAC
        assert "--auth=none" in ui_args and "--anonymous-actions" not in ui_args
        ui_role = named(objects, "Role", "-ui")
        assert {v for _, v in grants(ui_role["rules"])} == {"get", "list", "watch"}
        assert ("pods/log", "get") in grants(ui_role["rules"])
        assert not of_kind(objects, "Secret")  # no key rendered: each pod makes its own
        assert "kontinue.kontinue-system.ui-limits" not in policies
    elif name == "cluster-values.yaml":
        assert "--all-namespaces" in controller_args and "--all-namespaces" in ui_args
        assert cluster_roles == {"kontinue-controller", "kontinue-ui", *user_roles}
        assert not of_kind(objects, "Namespace")  # the workers' namespaces are the workflows'
        controller_role = named(objects, "ClusterRole", "-controller")
        assert "configmaps" not in {r for r, _ in grants(controller_role["rules"])}
        assert ("scheduledexecutions/finalizers", "update") in grants(controller_role["rules"])
        journal = [
            o for o in of_kind(objects, "Role") if o["metadata"]["name"].endswith("-journal")
        ]
        assert sorted(o["metadata"]["namespace"] for o in journal) == ["team-a", "team-b"]
        assert all(grants(o["rules"]) == {("configmaps", "get"), ("configmaps", "list")}
                   for o in journal)  # fmt: skip
        worker_roles = [
            o for o in of_kind(objects, "Role") if o["metadata"]["name"][-7:] == "-worker"
        ]
        assert sorted(o["metadata"]["namespace"] for o in worker_roles) == ["team-a", "team-b"]
        assert [a for a in worker_args if a.startswith("--namespace")] == [
            "--namespace=team-a",
            "--namespace=team-b",
        ]
        for role in worker_roles:
            resources = {r for rule in role["rules"] for r in rule["resources"]}
            assert not resources & {"jobs", "pods", "pods/log"}
        assert "--no-job-steps" in worker_args
        assert "kontinue.kontinue-system.job-pods" not in policies
        # the user's own token: the UI itself only watches executions
        ui_role = named(objects, "ClusterRole", "-ui")
        assert grants(ui_role["rules"]) == {
            ("executions", "get"), ("executions", "list"), ("executions", "watch"),
        }  # fmt: skip
        assert "--read-only" in ui_args and "--auth=token" in ui_args
    elif name == "full-values.yaml":
        impersonator = named(objects, "ClusterRole", "-ui-impersonator")
        assert impersonator["rules"] == [
            {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]},
            {
                "apiGroups": [""],
                "resources": ["groups"],
                "verbs": ["impersonate"],
                "resourceNames": ["platform-team", "release-managers"],
            },
        ]
        assert "--auth=proxy" in ui_args and "--path-prefix=/kontinue" in ui_args
        assert "--proxy-groups=platform-team,release-managers" in ui_args
        ui = container(objects, "ui")
        assert ui["readinessProbe"]["httpGet"]["path"] == "/kontinue/readyz"
        (hpa,) = of_kind(objects, "HorizontalPodAutoscaler")
        metric_types = [m["type"] for m in hpa["spec"]["metrics"]]
        assert metric_types == ["Resource", "External"]
        assert hpa["spec"]["metrics"][1]["external"]["metric"]["selector"]["matchLabels"] == {
            "namespace": "kontinue-system",
            "group": "payments",
        }
        assert "replicas" not in deployments(objects)["worker"]["spec"]
        assert of_kind(objects, "ServiceMonitor") and of_kind(objects, "PodMonitor")
        assert of_kind(objects, "Ingress")
        (dashboards,) = of_kind(objects, "ConfigMap")
        assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert sorted(dashboards["data"]) == sorted(
            p.name for p in (CHART / "dashboards").glob("*.json")
        )
        env = {e["name"]: e for e in container(objects, "worker")["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].startswith("http://otel-collector")
        assert env["OTEL_SERVICE_NAME"]["value"] == "kontinue-worker"
        assert "OTEL_SDK_DISABLED" not in env
        assert container(objects, "worker")["image"] == (
            "registry.example.com/platform/mycompany/workflows:2.3.1"
        )
        assert "--module=mycompany.workflows" in worker_args
        ui_env = {e["name"]: e for e in ui["env"]}
        secret_ref = ui_env["KONTINUE_UI_SECRET_KEY"]
        assert secret_ref["valueFrom"]["secretKeyRef"]["name"] == "kontinue-ui-key"
        proxy_ref = ui_env["KONTINUE_UI_PROXY_SECRET"]["valueFrom"]["secretKeyRef"]
        assert proxy_ref == {"name": "kontinue-ui-proxy", "key": "proxy-secret"}
        assert not of_kind(objects, "Secret")
        worker_roles = [
            o for o in of_kind(objects, "Role") if o["metadata"]["name"][-7:] == "-worker"
        ]
        assert sorted(o["metadata"]["namespace"] for o in worker_roles) == ["team-a", "team-b"]
        ui_policy = named(objects, "NetworkPolicy", "-ui")
        http_from = ui_policy["spec"]["ingress"][0]["from"]
        assert {"podSelector": {}} in http_from and len(http_from) == 2
        job_pods = named(objects, "ValidatingAdmissionPolicy", ".job-pods")
        allowed = {v["name"]: v["expression"] for v in job_pods["spec"]["variables"]}["allowed"]
        assert json.loads(allowed) == ["kontinue-job", "deployer"]
    else:
        raise AssertionError(f"no expectations written for {name}")


@pytest.mark.parametrize(
    "bad",
    [
        "bogus=1",
        "scope.mode=everywhere",
        "worker.replicas=-1",
        "controller.metricsPort=0",
        "ui.auth.mode=open",
        "ui.auth.proxy.groups={system:masters}",
        "worker.extraVersions[0].replicas=1",  # an older version without its version
    ],
)
def test_values_schema_refuses(kube_cluster: TestCluster, bad: str) -> None:
    result = kube_cluster.helm("template", "kontinue", str(CHART), "--set", bad, check=False)
    assert result.returncode != 0
    assert "schema" in result.stderr


def test_images_run_what_the_deployments_run(kube_cluster: TestCluster) -> None:
    """Each image's ENTRYPOINT is the command its Deployment runs (the stand-in relies on it)."""
    objects = render(kube_cluster, "kontinue-system")
    for component, dockerfile in DOCKERFILES.items():
        image = image_config(dockerfile)
        assert image.entrypoint == container(objects, component)["command"], component
        assert image.cmd is None, component  # the Deployment's args are the whole command line
        assert image.user is not None and image.user.split(":")[0] == "10001", component
        assert "runtime" in image.stages, component
    # the example worker image names its modules; the chart can run them without worker.modules
    example = image_env(EXAMPLE_IMAGE / "Dockerfile")
    assert example["KONTINUE_WORKER_MODULES"] == "release_train.flows"
    assert image_env(DOCKERFILES["worker"])["KONTINUE_WORKER_PATH"] == "/app/workflows"


# -- the API server accepts it all ---------------------------------------------------------------

_MONITORING_CRDS: list[dict[str, Any]] = [
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    for kind, plural in (("ServiceMonitor", "servicemonitors"), ("PodMonitor", "podmonitors"))
]


@pytest.fixture(scope="module")
def monitoring_crds(kube_cluster: TestCluster) -> Iterator[None]:
    """Schema-less stand-ins of the Prometheus Operator's two CRDs the chart may render."""
    kube_cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(_MONITORING_CRDS))
    for crd in _MONITORING_CRDS:
        kube_cluster.kubectl(
            "wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}", "--timeout=30s"
        )
    yield
    kube_cluster.kubectl(
        "delete", "crd", *(c["metadata"]["name"] for c in _MONITORING_CRDS), "--timeout=60s"
    )


def test_worker_versions_pin_to_the_image_tag_and_older_versions_drain_beside(
    kube_cluster: TestCluster, namespace: str
) -> None:
    def version_of(deployment: dict[str, Any]) -> str:
        box = deployment["spec"]["template"]["spec"]["containers"][0]
        (value,) = [e["value"] for e in box["env"] if e["name"] == "KONTINUE_WORKER_VERSION"]
        return str(value)

    plain = deployments(render(kube_cluster, namespace))
    assert set(plain) == {"controller", "worker", "ui"}
    assert (
        version_of(plain["worker"])
        == yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    )
    objects = render(
        kube_cluster, namespace,
        "--set", "worker.image.tag=2.0.0", "--set", "worker.upgradeFrom={1.9.0}",
        "--set", "worker.extraVersions[0].version=1.9.0",
        "--set", "worker.extraVersions[1].version=1.8.0",
        "--set", "worker.extraVersions[1].image.repository=acme/old-workflows",
        "--set", "worker.extraVersions[1].replicas=2",
        "--set", f"scope.namespaces={{{namespace}}}", "--set", f"worker.namespaces={{{namespace}}}",
        "--set", "scope.allowReleaseNamespace=true",
    )  # fmt: skip
    workers = {
        o["metadata"]["name"]: o
        for o in of_kind(objects, "Deployment")
        if o["metadata"]["name"].startswith("kontinue-worker")
    }
    current = workers.pop("kontinue-worker")
    assert version_of(current) == "2.0.0"
    current_args = current["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--upgrade-from=1.9.0" in current_args and "--drain" not in current_args
    assert set(workers) == {"kontinue-worker-v1-9-0", "kontinue-worker-v1-8-0"}
    old = workers["kontinue-worker-v1-8-0"]
    box = old["spec"]["template"]["spec"]["containers"][0]
    assert version_of(old) == "1.8.0" and box["image"] == "acme/old-workflows:1.8.0"
    assert "--drain" in box["args"] and not any("--upgrade-from" in a for a in box["args"])
    assert old["spec"]["replicas"] == 2
    assert workers["kontinue-worker-v1-9-0"]["spec"]["replicas"] == 1
    # selectors apart (the current Deployment's is immutable), one policy over them all
    selectors = [d["spec"]["selector"]["matchLabels"] for d in (current, *workers.values())]
    assert len({json.dumps(s, sort_keys=True) for s in selectors}) == 3
    policy = named(objects, "NetworkPolicy", "-worker")["spec"]["podSelector"]
    assert policy["matchExpressions"][0]["values"] == ["worker", "worker-draining"]
    manifest = yaml.safe_dump_all(objects)
    result = kube_cluster.kubectl(
        "create", "--dry-run=server", "-n", namespace, "-o", "name", "-f", "-", input=manifest
    )
    assert len(result.stdout.split()) == len(objects)


@pytest.mark.parametrize("values", VALUE_SETS, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_every_rendered_object_passes_a_server_side_dry_run(
    kube_cluster: TestCluster, namespace: str, monitoring_crds: None, values: Path
) -> None:
    objects = render(
        kube_cluster,
        namespace,
        "-f",
        str(values),
        "--set",
        f"scope.namespaces={{{namespace}}}",
        "--set",
        f"worker.namespaces={{{namespace}}}",
        "--set",
        "scope.allowReleaseNamespace=true",  # one namespace for everything, as a dry run
    )
    manifest = yaml.safe_dump_all(objects)
    result = kube_cluster.kubectl(
        "create", "--dry-run=server", "-n", namespace, "-o", "name", "-f", "-", input=manifest
    )
    assert len(result.stdout.split()) == len(objects)


# -- install, upgrade, uninstall ---------------------------------------------------------------

_NAMESPACED_KINDS = (
    "deployments,replicasets,pods,services,serviceaccounts,secrets,configmaps,roles,"
    "rolebindings,poddisruptionbudgets,horizontalpodautoscalers,ingresses,networkpolicies"
)
_CLUSTER_KINDS = (
    "clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings"
)


def _release_objects(cluster: TestCluster, namespace: str, release: str, *more: str) -> list[str]:
    """The release's objects in ``namespace`` (and the namespaces ``more``), and cluster-wide."""
    selector = f"{INSTANCE}={release}"
    names: list[str] = []
    for where in (namespace, *more):
        names += cluster.kubectl(
            "get", _NAMESPACED_KINDS, "-n", where, "-l", selector, "-o", "name"
        ).stdout.split()
    names += cluster.kubectl("get", _CLUSTER_KINDS, "-l", selector, "-o", "name").stdout.split()
    return names


def test_chart_installs_upgrades_and_uninstalls(kube_cluster: TestCluster, namespace: str) -> None:
    release = f"up-{namespace[-6:]}"  # ClusterRoles are cluster-wide: a name of its own
    workflows = f"{namespace}-workflows"  # the chart creates it: workflows run apart
    key = "k" * 40
    kube_cluster.kubectl(
        "create", "secret", "generic", "ui-key", "-n", namespace, f"--from-literal=secret-key={key}"
    )
    try:
        kube_cluster.helm(
            "install", release, str(CHART), "-n", namespace, "--set", "scope.mode=cluster",
            "--set", "worker.autoscaling.enabled=true",
            "--set", "ui.secretKey.existingSecret=ui-key", "--wait", "--timeout=120s",
        )  # fmt: skip
        installed = _release_objects(kube_cluster, namespace, release, workflows)
        assert f"clusterrole.rbac.authorization.k8s.io/{release}-kontinue-controller" in installed
        assert f"serviceaccount/{release}-kontinue-job" in installed  # in the workflow namespace
        ready = kube_cluster.get(namespace, "deployments", "-l", f"{INSTANCE}={release}")["items"]
        assert {d["metadata"]["name"]: d["status"].get("readyReplicas") for d in ready} == {
            f"{release}-kontinue-controller": 2,
            f"{release}-kontinue-worker": 1,  # the HPA owns the count (no HPA controller runs here)
            f"{release}-kontinue-ui": 1,
        }

        def key_checksum() -> str:
            ui = kube_cluster.get(namespace, "deployment", f"{release}-kontinue-ui")
            return str(ui["spec"]["template"]["metadata"]["annotations"]["checksum/secret-key"])

        installed_checksum = key_checksum()
        kube_cluster.helm(
            "upgrade", release, str(CHART), "-n", namespace, "--reuse-values",
            "--set", "worker.autoscaling.minReplicas=3", "--set", "ui.replicas=2",
            "--wait", "--timeout=120s",
        )  # fmt: skip
        hpa = kube_cluster.get(namespace, "hpa", f"{release}-kontinue-worker")
        assert hpa["spec"]["minReplicas"] == 3
        ui = kube_cluster.get(namespace, "deployment", f"{release}-kontinue-ui")
        assert ui["status"].get("readyReplicas") == 2
        assert key_checksum() == installed_checksum  # the same key: the pods were not rolled for it
        # a new key in the existing Secret rolls the pods at the next upgrade
        kube_cluster.kubectl(
            "patch", "secret", "ui-key", "-n", namespace, "--type=merge",
            "-p", json.dumps({"stringData": {"secret-key": "n" * 40}}),
        )  # fmt: skip
        kube_cluster.helm(
            "upgrade", release, str(CHART), "-n", namespace, "--reuse-values", "--timeout=120s"
        )
        assert key_checksum() != installed_checksum
        history = json.loads(
            kube_cluster.helm("history", release, "-n", namespace, "-o", "json").stdout
        )
        assert [h["status"] for h in history] == ["superseded", "superseded", "deployed"]

        kube_cluster.helm("uninstall", release, "-n", namespace, "--wait", "--timeout=120s")
        wait_for(
            "the release's objects to be gone",
            lambda: not _release_objects(kube_cluster, namespace, release, workflows),
            timeout=60,
        )
        crds = kube_cluster.kubectl("get", "crd", "-o", "name").stdout
        assert "executions.kontinue.cloud" in crds  # Helm keeps what crds/ installed
        # and the workflow namespace, with the workflows' history
        assert kube_cluster.kubectl("get", "namespace", workflows, check=False).returncode == 0
    finally:
        kube_cluster.kubectl("delete", "namespace", workflows, "--wait=false", check=False)


# -- a workflow through the chart's own processes ------------------------------------------------


def _execution(cluster: TestCluster, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = cluster.get(namespace, "executions", name)
    return found


def test_chart_runs_a_workflow_through_its_own_processes(
    kube_cluster: TestCluster,
    namespace: str,
    kontinue_controller: SessionController,
    tmp_path: Path,
) -> None:
    """Controller, worker and UI as the chart runs them, each with only its own RBAC.

    Workflows run in the namespace the chart creates, apart from the components; the UI sits
    behind an authenticating proxy (played by the test: the shared secret and the user's
    name), so the approval is given, and recorded, as that user, with the user's own rights.
    """
    ports = {
        "controller": free_port(), "worker": free_port(), "ui": free_port(),
        "ui-metrics": free_port(),
    }  # fmt: skip
    traces = tmp_path / "worker-traces.jsonl"
    proxy_secret = secrets.token_hex(24)
    workflows = f"{namespace}-workflows"  # created by the chart
    values = {
        # traces through the chart's OTEL settings, written as JSON lines by the worker
        "otel": {"enabled": True, "tracesExporter": "jsonl", "sampler": "parentbased_always_on"},
        "controller": {"metricsPort": ports["controller"], "leaseDuration": 5, "replicas": 1},
        "worker": {
            "replicas": 1,
            "extraEnv": [{"name": "KONTINUE_TRACES_FILE", "value": str(traces)}],
            # the example image's module, imported from the checkout instead of /app/workflows
            "modules": [image_env(EXAMPLE_IMAGE / "Dockerfile")["KONTINUE_WORKER_MODULES"]],
            "paths": [str(EXAMPLE_IMAGE / "workflows")],
            "metricsPort": ports["worker"],
            "hold": 1,  # release the execution at once: the controller must wake it up
            "grace": 5,
        },
        "ui": {
            "port": ports["ui"],
            "workers": 1,
            "threads": 4,
            "metricsPort": ports["ui-metrics"],
            "auth": {"mode": "proxy", "proxy": {"secret": {"value": proxy_secret}}},
        },
    }
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    release = "kontinue"
    # only the chart's controller may act in this namespace: the session's (admin) one stops
    kontinue_controller.kill()
    processes: dict[str, ContainerProcess] = {}
    try:
        kube_cluster.helm(
            "install", release, str(CHART), "-n", namespace, "-f", str(values_file),
            "--wait", "--timeout=120s",
        )  # fmt: skip
        # the person approving: kontinue's edit role in the workflow namespace, nothing more
        kube_cluster.kubectl(
            "create", "rolebinding", "release-manager", "-n", workflows,
            f"--clusterrole=kontinue.{namespace}.edit", "--user=release-manager",
        )  # fmt: skip
        kube_cluster.wait_allowed(
            "release-manager", "create", "executions.kontinue.cloud", workflows
        )
        manifest = kube_cluster.helm("get", "manifest", release, "-n", namespace).stdout
        rendered = deployments(yaml.safe_load_all(manifest))
        for component in ("controller", "worker", "ui"):
            process = ContainerProcess(
                kube_cluster,
                rendered[component],
                dockerfile=DOCKERFILES[component],
                workdir=tmp_path / "pods",
            )
            processes[component] = process
            process.start()
        for process in processes.values():
            process.wait_ready()
        wait_for(
            "the controller to lead",
            lambda: "leading" in processes["controller"].log(),
            timeout=60,
        )
        wait_for(
            "release-train to be registered",
            lambda: any(
                f["spec"]["name"] == "release-train"
                for f in kube_cluster.get(workflows, "functions")["items"]
            ),
        )

        ui = UiSession(
            f"http://127.0.0.1:{ports['ui']}",
            {"X-Kontinue-Proxy-Secret": proxy_secret, "X-Forwarded-User": "release-manager"},
        )
        assert ui.page("/readyz").strip() == "ok"
        start = f"/start/{workflows}/default/release-train"
        page = ui.submit(start, start, {"service": "payments", "version": "2.0.0"})
        name = page.rsplit("/", 1)[-1]
        assert page == f"/executions/{workflows}/{name}"
        assert _execution(kube_cluster, workflows, name)["metadata"]["name"] == name

        def waiting_for_approval() -> bool:
            status = _execution(kube_cluster, workflows, name).get("status") or {}
            return status.get("phase") == "Suspended" and "approval" in json.dumps(
                status.get("suspendedOn") or []
            )

        wait_for("the approval to be awaited (released by the worker)", waiting_for_approval)
        suspensions = kube_cluster.get(
            workflows, "suspensions", "-l", f"kontinue.cloud/parent={name}"
        )["items"]
        (approval,) = suspensions
        assert approval["metadata"]["name"] in ui.page(page)
        payload = {"approved": True, "by": "release-manager"}
        back = ui.submit(
            f"{page}/resume",
            page,
            {"suspension": approval["metadata"]["name"], "data": json.dumps(payload)},
        )
        assert back == page

        done = wait_for(
            "the release train to complete",
            lambda: (
                ex
                if (ex := _execution(kube_cluster, workflows, name)).get("status", {}).get("phase")
                in ("Completed", "Failed")
                else None
            ),
        )
        assert done["status"]["phase"] == "Completed", done["status"]
        result = done["status"]["result"]
        assert result["image"] == "registry.local/payments:2.0.0"
        assert result["approval"] == payload
        resumed = kube_cluster.get(workflows, "suspension", approval["metadata"]["name"])
        assert resumed["status"]["resumedBy"] == "release-manager"
        children = kube_cluster.get(workflows, "executions", "-l", f"kontinue.cloud/parent={name}")
        assert [c["status"]["phase"] for c in children["items"]] == ["Completed"]
        assert "registry.local/payments:2.0.0 shipped" in ui.page(page)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports['ui-metrics']}/metrics")
        assert 'route="/start/<namespace>/<group>/<name>",status="303"' in metrics.read().decode()

        for component, process in processes.items():
            assert "forbidden" not in process.log().lower(), (component, process.log()[-4000:])
        for component in ("ui", "worker", "controller"):  # SIGTERM drains and exits cleanly
            running = processes[component].process
            assert running is not None and running.stop() == 0, processes[component].log()[-4000:]
        spans = [json.loads(line) for line in traces.read_text().splitlines() if line.strip()]
        assert {span["service"] for span in spans} == {"kontinue-worker"}
        assert len({span["trace_id"] for span in spans}) == 1  # the child joined the root's trace
    except BaseException:
        for component, process in processes.items():
            print(f"\n--- {component} ({process.pod_name}) log ---\n{process.log()[-6000:]}")
        raise
    finally:
        for process in processes.values():
            if process.process is not None:
                process.process.kill()
        kube_cluster.helm("uninstall", release, "-n", namespace, "--wait", check=False)
        kube_cluster.kubectl("delete", "namespace", workflows, "--wait=false", check=False)
        kontinue_controller.restart()
