"""The UI believes identity headers only from its authenticating proxy, never takes
a ``system:`` identity, and reads (not only acts) with the rights of the person using it.

``kontinue-ui`` runs as a process against the real API server, serving two namespaces: alice
may read executions in the first only, bob nowhere. Requests are made as a browser behind the
proxy would make them (the proxy's secret and identity headers), and as an attacker would
(the headers without the secret).
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import requests

from kontinue.api import manifests
from kontinue.client import Kube, kubeapi
from kontinue_testkit.pytest_plugin import StartUi, TestCluster, UiProcess
from kontinue_testkit.ui_session import CSRF_META as _CSRF

SECRET_HEADER = "X-Kontinue-Proxy-Secret"


def _executions(admin: Kube, *where: tuple[str, str]) -> None:
    for namespace, name in where:
        admin.create(kubeapi.EXECUTIONS, namespace, manifests.execution_manifest("f", name=name))


def _grant_read(cluster: TestCluster, namespace: str, user: str) -> None:
    resources = "executions.kontinue.cloud,suspensions.kontinue.cloud,jobs,pods"
    cluster.kubectl("create", "role", "kontinue-reader", "-n", namespace,
                    "--verb=get,list,watch", f"--resource={resources}")  # fmt: skip
    cluster.kubectl("create", "rolebinding", f"{user}-reads", "-n", namespace,
                    "--role=kontinue-reader", f"--user={user}")  # fmt: skip
    cluster.wait_allowed(user, "list", "executions.kontinue.cloud", namespace)


def _session(headers: dict[str, str]) -> requests.Session:
    http = requests.Session()
    http.headers.update(headers)
    return http


def _cancel(ui: UiProcess, http: requests.Session, namespace: str, name: str) -> int:
    """POST the Cancel form as a browser would (CSRF token from a page it may see)."""
    page = http.get(f"{ui.url}/executions", timeout=30)
    found = _CSRF.search(page.text)
    token = found.group(1) if found else "none"
    answer = http.post(
        f"{ui.url}/executions/{namespace}/{name}/cancel",
        data={"csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    return answer.status_code


def test_forged_identity_headers_are_refused_and_reads_follow_the_users_rights(
    start_ui: StartUi,
    kube_cluster: TestCluster,
    namespace: str,
    other_namespace: str,
    tmp_path: Path,
) -> None:
    admin = Kube(str(kube_cluster.kubeconfig))
    _executions(admin, (namespace, "visible"), (other_namespace, "hidden"))
    _grant_read(kube_cluster, namespace, "alice")
    secret = secrets.token_hex(24)
    secret_file = tmp_path / "proxy-secret"
    secret_file.write_text(secret + "\n")
    ui = start_ui(
        "--namespace", other_namespace, "--auth", "proxy", "--proxy-secret-file", str(secret_file)
    )

    def canceled(ns: str, name: str) -> bool:
        return bool(admin.get(kubeapi.EXECUTIONS, ns, name)["spec"].get("cancel"))

    # the attacker: identity headers without the proxy's secret (or with a wrong one)
    forged = {"X-Forwarded-User": "admin", "X-Forwarded-Groups": "system:masters"}
    for headers in (forged, {**forged, SECRET_HEADER: "guess-" + secret[6:]}):
        http = _session(headers)
        for path in ("/executions", f"/executions/{namespace}/visible", "/functions"):
            assert http.get(ui.url + path, timeout=30).status_code == 401, (headers, path)
        assert _cancel(ui, http, namespace, "visible") == 401
    assert not canceled(namespace, "visible")

    # through the proxy, system: identities are refused all the same
    for headers in (
        {"X-Forwarded-User": "admin", "X-Forwarded-Groups": "system:masters"},
        {"X-Forwarded-User": "system:admin"},
        {"X-Forwarded-User": "system:serviceaccount:kube-system:generic-garbage-collector"},
    ):
        http = _session({SECRET_HEADER: secret, **headers})
        answer = http.get(f"{ui.url}/executions/{namespace}/visible", timeout=30)
        assert answer.status_code == 403 and "system:" in answer.text, headers
        assert _cancel(ui, http, namespace, "visible") == 403
    assert not canceled(namespace, "visible")

    # alice reads what she may list, and nothing else
    alice = _session({SECRET_HEADER: secret, "X-Forwarded-User": "alice"})
    listing = alice.get(f"{ui.url}/executions", timeout=30)
    assert listing.status_code == 200 and "alice" in listing.text
    assert 'data-name="visible"' in listing.text
    assert 'data-name="hidden"' not in listing.text  # in the UI's cache, not in alice's view
    assert alice.get(f"{ui.url}/executions/{namespace}/visible", timeout=30).status_code == 200
    for path in (
        f"/executions?namespace={other_namespace}",
        f"/executions/{other_namespace}/hidden",
        f"/executions/{other_namespace}/hidden/live?since=x",
        f"/executions/{other_namespace}/hidden/logs/step-1",
    ):
        answer = alice.get(ui.url + path, timeout=30)
        assert answer.status_code == 403, (path, answer.status_code)
    # ... and acts with her own rights: she may not cancel
    assert _cancel(ui, alice, namespace, "visible") == 403
    assert not canceled(namespace, "visible")

    # bob may read nothing at all
    bob = _session({SECRET_HEADER: secret, "X-Forwarded-User": "bob"})
    assert bob.get(f"{ui.url}/executions", timeout=30).status_code == 403
    assert bob.get(f"{ui.url}/executions/{namespace}/visible", timeout=30).status_code == 403


def test_the_dashboard_model_reads_and_acts_with_the_users_own_token(
    start_ui: StartUi, kube_cluster: TestCluster, namespace: str, other_namespace: str
) -> None:
    admin = Kube(str(kube_cluster.kubeconfig))
    _executions(admin, (namespace, "visible"), (other_namespace, "hidden"))
    reader = f"reader-{uuid.uuid4().hex[:4]}"
    kube_cluster.kubectl("create", "serviceaccount", reader, "-n", namespace)
    _grant_read(kube_cluster, namespace, f"system:serviceaccount:{namespace}:{reader}")
    token = kube_cluster.kubectl("create", "token", reader, "-n", namespace).stdout.strip()
    ui = start_ui("--namespace", other_namespace, "--auth", "token")

    assert requests.get(f"{ui.url}/executions", timeout=30).status_code == 401
    forged = {"X-Forwarded-User": "admin", "X-Forwarded-Groups": "system:masters"}
    assert requests.get(f"{ui.url}/executions", headers=forged, timeout=30).status_code == 401
    bogus = {"Authorization": "Bearer not-a-token"}
    assert requests.get(f"{ui.url}/executions", headers=bogus, timeout=30).status_code == 401

    http = _session({"Authorization": f"Bearer {token}"})
    page = http.get(f"{ui.url}/executions/{namespace}/visible", timeout=30)
    assert page.status_code == 200 and f"system:serviceaccount:{namespace}:{reader}" in page.text
    listing = http.get(f"{ui.url}/executions", timeout=30).text
    assert 'data-name="visible"' in listing and 'data-name="hidden"' not in listing
    assert http.get(f"{ui.url}/executions/{other_namespace}/hidden", timeout=30).status_code == 403
    assert _cancel(ui, http, namespace, "visible") == 403  # read rights only
    assert not admin.get(kubeapi.EXECUTIONS, namespace, "visible")["spec"].get("cancel")
