"""Search labels a workflow sets while running: no write of their own, found by the CLI's and
the UI's label filters, kept across a worker crash (real workers, API server, UI app)."""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import signal
import subprocess
from pathlib import Path
from typing import Any

from kontinue.api.phases import Phase, execution_phase
from kontinue.client import Client, Selection
from kontinue_testkit.pytest_plugin import KONTINUE, StartWorker, TestCluster, wait_for
from kontinue_ui.app import create_app
from kontinue_ui.settings import Settings
from kontinue_ui.state import UiState

FLOWS = Path(__file__).parent / "workflows"
_ROW = re.compile(r'<tr data-name="([^"]+)" data-phase="([^"]+)">')


def _list(kube_cluster: TestCluster, namespace: str, selector: str) -> set[str]:
    """The names ``kontinue list -l selector`` prints (as JSON)."""
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig)}
    result = subprocess.run(
        [KONTINUE, "list", "-n", namespace, "-l", selector, "-o", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, (selector, result.stdout, result.stderr)
    return {item["metadata"]["name"] for item in json.loads(result.stdout)["items"]}


def test_labels_ride_along_and_are_found_by_the_cli_and_the_ui(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster, namespace: str
) -> None:
    start_worker("close_flows", path=FLOWS)
    client.create_execution("labels-plain", {}, name="plain")
    client.create_execution("labels-set", {"customer": "acme"}, name="acme-order")
    client.create_execution("labels-set", {"customer": "globex"}, name="globex-order")
    client.create_execution("labels-plain", {}, name="tagged", labels={"customer": "acme"})
    for name in ("plain", "acme-order", "globex-order", "tagged"):
        assert execution_phase(client.wait(name, timeout=60)) == Phase.COMPLETED

    # set three times, around two stores: the same writes as without them
    plain = wait_for("the audit log", lambda: kube_cluster.execution_writes(namespace, "plain"))
    labelled = kube_cluster.execution_writes(namespace, "acme-order")
    assert plain == ["create", "patch status", "patch status", "patch status", "patch status"]
    assert labelled == plain  # create, claim, two stores, finish
    status = client.get("acme-order")["status"]
    assert status["labels"] == {"customer": "acme", "stage": "paid", "done": "yes"}
    assert "labels" not in client.get("acme-order")["metadata"].get("labels", {})

    # the CLI: workflow labels and metadata labels alike, with a server-side part
    assert _list(kube_cluster, namespace, "customer=acme") == {"acme-order", "tagged"}
    assert _list(kube_cluster, namespace, "customer=acme,stage=paid") == {"acme-order"}
    assert _list(kube_cluster, namespace, "customer in (acme,globex),done") == {
        "acme-order", "globex-order",
    }  # fmt: skip
    assert _list(kube_cluster, namespace, "kontinue.cloud/function=labels-set,customer!=acme") == {
        "globex-order"
    }
    assert _list(kube_cluster, namespace, "!customer") == {"plain"}
    # a bulk action's selection matches the same labels
    selected = client.select(Selection(label_selector="customer=acme"))
    assert {e["metadata"]["name"] for e in selected} == {"acme-order", "tagged"}
    assert _list(kube_cluster, namespace, "tier") == set()  # removed by the workflow
    shown = subprocess.run(
        [KONTINUE, "show", "acme-order", "-n", namespace],
        env={**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig), "COLUMNS": "200"},
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "labels: customer=acme, done=yes, stage=paid" in shown
    assert client.list(label_selector="customer=globex") == [client.get("globex-order")]

    # the UI's list filter reads its cache, whose slim copies keep the workflow's labels
    settings = Settings(
        namespaces=(namespace,), kubeconfig=str(kube_cluster.kubeconfig),
        secret_key=secrets.token_hex(32),
    )  # fmt: skip
    state = UiState.build(settings)
    state.cache.start()
    try:
        assert state.cache.wait_synced(30), state.cache.error
        http = create_app(state).test_client()

        def rows(selector: str) -> set[str]:
            answer = http.get("/executions", query_string={"label": selector})
            assert answer.status_code == 200, answer.text
            return {n for n, _ in _ROW.findall(html.unescape(answer.text))}

        assert rows("customer=acme") == {"acme-order", "tagged"}
        assert rows("stage=paid,customer=globex") == {"globex-order"}
        page = html.unescape(http.get(f"/executions/{namespace}/acme-order").text)
        assert "customer=acme" in page and "stage=paid" in page
    finally:
        state.cache.stop()


def test_labels_are_kept_when_a_worker_dies_and_another_replays(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster, namespace: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    go = tmp_path / "go"
    first = start_worker("close_flows", path=FLOWS, lease_duration=3, name="first")
    client.create_execution("labels-crashy", {"customer": "acme", "go": str(go)}, name="crashy")

    def labels() -> dict[str, Any]:
        return dict((client.get("crashy").get("status") or {}).get("labels") or {})

    def committed() -> bool:
        return "one" in ((client.get("crashy").get("status") or {}).get("steps") or {})

    wait_for("store one committed", committed)
    assert labels() == {"customer": "acme"}  # they rode along with the first store
    first.signal(signal.SIGKILL)
    start_worker("close_flows", path=FLOWS, lease_duration=3, name="second")
    go.touch()
    done = client.wait("crashy", timeout=90)
    assert execution_phase(done) == Phase.COMPLETED, done["status"]
    assert done["status"]["workerName"] == "second"
    assert labels() == {"customer": "acme", "stage": "after-crash"}
    assert _list(kube_cluster, namespace, "customer=acme,stage=after-crash") == {"crashy"}
