"""The UI's views through Flask's test client, against the real control plane.

Each test builds the app in the test process (``create_app`` with a :class:`UiState` whose
execution cache it starts itself) and drives it with ``app.test_client()``: no gunicorn, no
browser. The cache follows the real API server; executions are written there directly (no
worker), statuses through the status subresource. ``test_ui_browser.py`` covers the same pages
in Chromium.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kontinue.api import labels, names
from kontinue.client import Client, kubeapi
from kontinue_testkit.pytest_plugin import TestCluster, wait_for
from kontinue_testkit.ui_session import CSRF
from kontinue_ui.app import create_app
from kontinue_ui.settings import AuthMode, Settings
from kontinue_ui.state import UiState

_ROW = re.compile(r'<tr data-name="([^"]+)" data-phase="([^"]+)">')
_SINCE = re.compile(r'hx-get="[^"]*[?&]since=([0-9a-f]+)')
PROXY_SECRET = secrets.token_hex(16)


@dataclass
class UiApp:
    """One UI app in the test process, its state and a test client with a cookie jar."""

    state: UiState
    app: Flask
    http: FlaskClient

    def page(self, path: str, **headers: str) -> str:
        """GET ``path``; the page's text (entities decoded) when it answers 200."""
        answer = self.http.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return html.unescape(answer.text)

    def csrf_token(self, path: str, **headers: str) -> str:
        """The CSRF token a form on ``path`` carries (bound to this client's session)."""
        found = CSRF.search(self.page(path, **headers))
        assert found, f"no form with a CSRF token on {path}"
        return found.group(1)

    def wait_cached(self, phases: dict[str, str]) -> None:
        """Wait until the cache holds exactly these executions in these phases."""
        wait_for(
            f"the cache to hold {phases}",
            lambda: {s.name: s.phase for s in self.state.cache.snapshot()} == phases,
            timeout=30,
        )


MakeUi = Callable[..., UiApp]


@pytest.fixture
def make_ui(kube_cluster: TestCluster, namespace: str) -> Iterator[MakeUi]:
    """``make_ui(**settings)``: an app serving the test's namespace, its cache synced.

    The keyword arguments are :class:`Settings` fields; every cache is stopped afterwards.
    """
    states: list[UiState] = []

    def make(**options: Any) -> UiApp:
        settings = Settings(
            namespaces=(namespace,),
            kubeconfig=str(kube_cluster.kubeconfig),
            secret_key=secrets.token_hex(32),
            **options,
        )
        state = UiState.build(settings)
        app = create_app(state)
        assert app.test_client().get("/readyz").status_code == 503  # nothing started it
        state.cache.start()
        states.append(state)
        assert state.cache.wait_synced(30), state.cache.error
        return UiApp(state, app, app.test_client())

    yield make
    for state in states:
        state.cache.stop()


def _execution(
    client: Client,
    name: str,
    function: str,
    status: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> None:
    """Write an execution (and its status) as a worker would have left it."""
    client.kube.create(
        kubeapi.EXECUTIONS,
        client.namespace,
        {
            "apiVersion": "kontinue.cloud/v1alpha1",
            "kind": "Execution",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"function": function},
        },
    )
    if status:
        client.kube.merge_patch(
            kubeapi.EXECUTIONS, client.namespace, name, {"status": status}, subresource="status"
        )


def _suspended_on(client: Client, name: str, kind: str, target: str) -> None:
    """Suspend ``name`` on ``target`` (as a worker releasing it would write its status)."""
    status = {"phase": "Suspended", "suspendedOn": [{"kind": kind, "name": target}]}
    client.kube.merge_patch(
        kubeapi.EXECUTIONS, client.namespace, name, {"status": status}, subresource="status"
    )


def _finished(phase: str, second: int) -> dict[str, Any]:
    return {
        "phase": phase,
        "message": f"{phase.lower()} on purpose",
        "startedAt": "2030-01-01T10:00:00Z",
        "finishedAt": f"2030-01-01T10:00:{second:02d}Z",
    }


def _rows(text: str) -> list[tuple[str, str]]:
    return _ROW.findall(text)


def _refusal(answer: TestResponse) -> str:
    return html.unescape(answer.text)


# -- the list ------------------------------------------------------------------------------------


def test_the_list_filters_sorts_and_answers_204_while_nothing_changed(
    make_ui: MakeUi, client: Client
) -> None:
    _execution(client, "a-done", "alpha", _finished("Completed", 1), {"batch": "1"})
    _execution(client, "a-failed", "alpha", _finished("Failed", 2), {"batch": "2"})
    _execution(client, "b-failed", "beta", _finished("Failed", 3), {"batch": "1"})
    _execution(client, "b-waiting", "beta")
    ui = make_ui()
    ui.wait_cached(
        {"a-done": "Completed", "a-failed": "Failed", "b-failed": "Failed", "b-waiting": "Pending"}
    )

    assert ui.http.get("/").headers["Location"].endswith("/executions")
    everything = ui.page("/executions?sort=name&order=asc")
    assert _rows(everything) == [
        ("a-done", "Completed"), ("a-failed", "Failed"), ("b-failed", "Failed"),
        ("b-waiting", "Pending"),
    ]  # fmt: skip
    assert 'data-total="4"' in everything
    assert 'data-phase-count="Failed">Failed 2<' in everything

    assert {n for n, _ in _rows(ui.page("/executions?phase=Failed"))} == {"a-failed", "b-failed"}
    both = ui.page("/executions?phase=Failed&function=alpha")
    assert _rows(both) == [("a-failed", "Failed")]
    assert {n for n, _ in _rows(ui.page("/executions?label=batch%3D1"))} == {"a-done", "b-failed"}
    assert _rows(ui.page("/executions?q=waiting")) == [("b-waiting", "Pending")]
    assert "No executions match." in ui.page("/executions?function=gamma")

    bad = ui.page("/executions?label=batch+in+1")  # a message, and the list without the filter
    assert "not a label selector: 'batch in 1'" in bad
    assert len(_rows(bad)) == 4

    # the live refresh: 204 while the page would show the same, the new rows once it changed
    token = _SINCE.search(ui.page("/executions?phase=Failed"))
    assert token
    since = f"/executions?phase=Failed&since={token.group(1)}"
    assert ui.http.get(since, headers={"HX-Request": "true"}).status_code == 204
    client.kube.merge_patch(
        kubeapi.EXECUTIONS, client.namespace, "b-waiting", {"status": _finished("Failed", 4)},
        subresource="status",
    )  # fmt: skip
    wait_for(
        "the change to reach the cache",
        lambda: ui.http.get(since, headers={"HX-Request": "true"}).status_code == 200,
        timeout=30,
    )
    fragment = ui.http.get(since, headers={"HX-Request": "true"}).text
    assert "<html" not in fragment  # only the table
    assert {n for n, _ in _rows(fragment)} == {"a-failed", "b-failed", "b-waiting"}


# -- an execution's page -------------------------------------------------------------------------


def test_an_execution_page_shows_its_steps_children_and_result(
    make_ui: MakeUi, client: Client
) -> None:
    _execution(
        client,
        "shown",
        "alpha",
        {
            **_finished("Completed", 9),
            "workerName": "worker-7",
            "result": {"answer": 42},
            "steps": {
                "fetch": {"index": 0, "type": "activity", "phase": "Completed",
                          "displayName": "Fetch the data", "startedAt": "2030-01-01T10:00:01Z",
                          "finishedAt": "2030-01-01T10:00:04Z"},
                "child-1": {"index": 1, "type": "execute", "phase": "Completed",
                            "child": "shown-child"},
            },
        },
    )  # fmt: skip
    _execution(client, "shown-child", "beta", _finished("Completed", 8), {labels.PARENT: "shown"})
    ui = make_ui()
    ui.wait_cached({"shown": "Completed", "shown-child": "Completed"})

    page = ui.page(f"/executions/{client.namespace}/shown")
    assert "function <strong>alpha</strong>" in page
    assert 'data-step="fetch"' in page and "Fetch the data" in page
    assert 'data-step="child-1"' in page
    assert f'href="/executions/{client.namespace}/shown-child"' in page
    assert "worker-7" in page
    assert re.search(r'<details id="result" open>.*"answer": 42', page, re.S)
    assert "/shown/cancel" not in page  # finished: nothing to cancel

    missing = ui.http.get(f"/executions/{client.namespace}/missing")
    assert missing.status_code == 404
    assert "missing" in _refusal(missing) and "Traceback" not in missing.text
    elsewhere = ui.http.get("/executions/kube-system/shown")
    assert elsewhere.status_code == 404
    assert "namespace kube-system is not served by this UI" in _refusal(elsewhere)


# -- the start form ------------------------------------------------------------------------------

GREET_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "times": {"type": "integer", "minimum": 1},
    },
    "required": ["name"],
}


def test_the_start_form_refuses_bad_values_field_by_field_and_creates_good_ones(
    make_ui: MakeUi, client: Client
) -> None:
    client.kube.create(
        kubeapi.FUNCTIONS,
        client.namespace,
        {
            "apiVersion": "kontinue.cloud/v1alpha1",
            "kind": "Function",
            "metadata": {"name": names.function_object_name("greet", "default")},
            "spec": {"name": "greet", "workerGroup": "default", "argumentsSchema": GREET_SCHEMA},
        },
    )
    ui = make_ui(anonymous_actions=True)
    path = f"/start/{client.namespace}/default/greet"
    token = ui.csrf_token(path)

    refused = ui.http.post(
        path, data={"csrf_token": token, "name": "", "times": "many", "retries": "-1"}
    )
    assert refused.status_code == 422
    text = _refusal(refused)
    assert 'data-field="name">name is required<' in text
    assert 'data-field="times">times must be a whole number<' in text
    assert "must be a whole number, 0 or more" in text  # retries
    assert 'value="many"' in text  # what was typed stays in the form

    below = ui.http.post(path, data={"csrf_token": token, "name": "Ada", "times": "0"})
    assert below.status_code == 422
    assert "0 is less than the minimum of 1" in _refusal(below)
    assert client.list() == []  # nothing was created

    created = ui.http.post(path, data={"csrf_token": token, "name": "Ada", "times": "2"})
    assert created.status_code == 303
    name = created.headers["Location"].rsplit("/", 1)[1]
    assert created.headers["Location"].endswith(f"/executions/{client.namespace}/{name}")
    spec = client.get(name)["spec"]
    assert spec["function"] == "greet" and spec["arguments"] == {"name": "Ada", "times": 2}

    unknown = ui.http.get(f"/start/{client.namespace}/default/nobody")
    assert unknown.status_code == 404
    assert "no worker of group default serves function nobody" in _refusal(unknown)


# -- refusals ------------------------------------------------------------------------------------


def test_a_forbidden_action_answers_403_and_changes_nothing(
    make_ui: MakeUi, client: Client, kube_cluster: TestCluster
) -> None:
    _execution(client, "running", "alpha", {"phase": "Executing"})

    # the default UI is read-only: the guard refuses before anything reads the form
    read_only = make_ui()
    read_only.wait_cached({"running": "Executing"})
    answer = read_only.http.post(f"/executions/{client.namespace}/running/cancel")
    assert answer.status_code == 403
    assert "this UI is read-only: actions are turned off" in _refusal(answer)

    # behind the proxy, a user who may read but not patch executions: the API server's 403
    namespace = client.namespace
    resources = "executions.kontinue.cloud,suspensions.kontinue.cloud,jobs"
    kube_cluster.kubectl("create", "role", "reader", "-n", namespace,
                         "--verb=get,list,watch", f"--resource={resources}")  # fmt: skip
    kube_cluster.kubectl("create", "rolebinding", "reader", "-n", namespace,
                         "--role=reader", "--user=reader")  # fmt: skip
    kube_cluster.wait_allowed("reader", "list", "jobs", namespace)
    proxied = make_ui(auth=AuthMode.PROXY, proxy_secret=PROXY_SECRET)
    as_reader = {"X-Kontinue-Proxy-Secret": PROXY_SECRET, "X-Forwarded-User": "reader"}
    token = proxied.csrf_token(f"/executions/{namespace}/running", **as_reader)
    refused = proxied.http.post(
        f"/executions/{namespace}/running/cancel", data={"csrf_token": token}, headers=as_reader
    )
    assert refused.status_code == 403
    message = _refusal(refused)
    assert 'User "reader" cannot patch resource "executions"' in message, message
    assert not client.get("running")["spec"].get("cancel")


def test_an_action_without_its_csrf_token_is_refused(make_ui: MakeUi, client: Client) -> None:
    _execution(client, "guarded", "alpha", {"phase": "Executing"})
    ui = make_ui(anonymous_actions=True)
    ui.wait_cached({"guarded": "Executing"})
    cancel = f"/executions/{client.namespace}/guarded/cancel"

    for form in ({}, {"csrf_token": "forged"}):
        answer = ui.http.post(cancel, data=form)
        assert answer.status_code == 400, form
        assert "every action needs the form's CSRF token" in _refusal(answer)
    # a token is bound to its session: another visitor's is no good here
    other = UiApp(ui.state, ui.app, ui.app.test_client())
    stolen = other.csrf_token(f"/executions/{client.namespace}/guarded")
    assert ui.http.post(cancel, data={"csrf_token": stolen}).status_code == 400
    assert not client.get("guarded")["spec"].get("cancel")

    token = ui.csrf_token(f"/executions/{client.namespace}/guarded")
    accepted = ui.http.post(cancel, data={"csrf_token": token})
    assert accepted.status_code == 303
    assert client.get("guarded")["spec"]["cancel"] is True


# -- bulk actions from the list ------------------------------------------------------------------

_REPORT_ROW = re.compile(r'<tr data-name="([^"]+)" data-result="([^"]+)">')


def test_bulk_cancel_of_picked_and_of_all_matching_reports_each_execution(
    make_ui: MakeUi, client: Client
) -> None:
    _execution(client, "a-run", "alpha", {"phase": "Executing", "workerName": "gone"})
    _execution(client, "a-new", "alpha")
    _execution(client, "a-done", "alpha", _finished("Completed", 1))
    _execution(client, "b-run", "beta", {"phase": "Executing", "workerName": "gone"})
    ui = make_ui(anonymous_actions=True)
    ui.wait_cached(
        {"a-run": "Executing", "a-new": "Pending", "a-done": "Completed", "b-run": "Executing"}
    )
    ns = client.namespace
    listed = ui.page("/executions")
    assert f'name="pick" value="{ns}/a-run"' in listed and 'id="bulk"' in listed
    token = ui.csrf_token("/executions")

    picked = ui.http.post("/executions/bulk", data={
        "csrf_token": token, "action": "cancel",
        "pick": [f"{ns}/a-run", f"{ns}/a-done", f"{ns}/ghost", "elsewhere/a-run"],
    })  # fmt: skip
    assert picked.status_code == 200, picked.text
    page = html.unescape(picked.text)
    rows = _REPORT_ROW.findall(page)
    assert ("a-run", "done") in rows and ("a-done", "skipped") in rows
    assert ("ghost", "failed") in rows and rows.count(("a-run", "failed")) == 1  # not served
    assert "already finished (Completed)" in page and "not found" in page
    assert client.get("a-run")["spec"]["cancel"] is True
    assert not client.get("a-done")["spec"].get("cancel")
    assert not client.get("b-run")["spec"].get("cancel")

    # every execution matching the filters (function alpha), whatever page shows
    everything = ui.http.post("/executions/bulk", data={
        "csrf_token": token, "action": "cancel", "all": "1", "function": "alpha",
    })  # fmt: skip
    assert everything.status_code == 200
    rows = _REPORT_ROW.findall(html.unescape(everything.text))
    got = dict(rows)
    assert sorted(got) == ["a-done", "a-new", "a-run"]
    assert got["a-done"] == "skipped" and got["a-new"] == "done"
    assert got["a-run"] in ("done", "skipped")  # skipped when a controller canceled it since
    assert client.get("a-new")["spec"]["cancel"] is True
    assert not client.get("b-run")["spec"].get("cancel")

    # nothing selected: back to the list with a message; an unknown action: 400
    empty = ui.http.post("/executions/bulk", data={"csrf_token": token, "action": "cancel"})
    assert empty.status_code == 303 and empty.headers["Location"].endswith("/executions")
    assert ui.http.post("/executions/bulk", data={"csrf_token": token, "action": "drop",
                                                  "all": "1"}).status_code == 400  # fmt: skip


def test_bulk_resume_from_the_list_hands_the_payload_to_each(
    make_ui: MakeUi, client: Client
) -> None:
    ns = client.namespace
    # each waits on something the controller (if one runs) sees unfinished: the approval, or a
    # child no worker serves
    for name in ("w-1", "w-2"):
        _execution(client, name, "gate")
        owner = client.get(name)
        client.kube.create(kubeapi.SUSPENSIONS, ns, {
            "apiVersion": "kontinue.cloud/v1alpha1", "kind": "Suspension",
            "metadata": {"name": f"{name}--approval", "labels": {labels.PARENT: name},
                         "ownerReferences": [{"apiVersion": "kontinue.cloud/v1alpha1",
                                              "kind": "Execution", "name": name,
                                              "uid": owner["metadata"]["uid"],
                                              "controller": True}]},
            "spec": {"execution": name, "step": "approval"},
        })  # fmt: skip
        _suspended_on(client, name, "Suspension", f"{name}--approval")
    _execution(client, "w-none-child", "nobody")
    _execution(client, "w-none", "gate")
    _suspended_on(client, "w-none", "Execution", "w-none-child")
    ui = make_ui(anonymous_actions=True)
    ui.wait_cached(
        {"w-1": "Suspended", "w-2": "Suspended", "w-none": "Suspended", "w-none-child": "Pending"}
    )
    token = ui.csrf_token("/executions")
    bad = ui.http.post("/executions/bulk", data={
        "csrf_token": token, "action": "resume", "all": "1", "data": "{nope",
    })  # fmt: skip
    assert bad.status_code == 303
    answer = ui.http.post("/executions/bulk", data={
        "csrf_token": token, "action": "resume", "all": "1", "function": "gate",
        "data": '{"approved": true}',
    })  # fmt: skip
    assert answer.status_code == 200
    page = html.unescape(answer.text)
    assert sorted(_REPORT_ROW.findall(page)) == [
        ("w-1", "done"), ("w-2", "done"), ("w-none", "skipped"),
    ]  # fmt: skip
    assert "resumed w-1--approval" in page and "no waiting suspension" in page
    for name in ("w-1", "w-2"):
        status = client.kube.get(kubeapi.SUSPENSIONS, ns, f"{name}--approval")["status"]
        assert status["phase"] == "Completed" and status["data"] == {"approved": True}
        assert status["resumedBy"] == ui.state.own_user()  # anonymous: the UI's own name


def test_bulk_actions_need_csrf_and_rights(
    make_ui: MakeUi, client: Client, kube_cluster: TestCluster
) -> None:
    _execution(client, "held", "alpha", {"phase": "Executing", "workerName": "gone"})
    ns = client.namespace
    form = {"action": "cancel", "all": "1"}

    read_only = make_ui()
    read_only.wait_cached({"held": "Executing"})
    assert 'id="bulk"' not in read_only.page("/executions")  # no checkboxes, no action bar
    refused = read_only.http.post("/executions/bulk", data=form)
    assert refused.status_code == 403 and "read-only" in _refusal(refused)

    writable = make_ui(anonymous_actions=True)
    writable.wait_cached({"held": "Executing"})
    for forged in ({}, {"csrf_token": "forged"}):
        answer = writable.http.post("/executions/bulk", data={**form, **forged})
        assert answer.status_code == 400 and "CSRF" in _refusal(answer)
    assert not client.get("held")["spec"].get("cancel")

    # a user who may read but not patch: each execution is reported refused, nothing changes
    resources = "--resource=executions.kontinue.cloud,suspensions.kontinue.cloud"
    kube_cluster.kubectl("create", "role", "reader", "-n", ns, "--verb=get,list,watch",
                         resources)  # fmt: skip
    kube_cluster.kubectl("create", "rolebinding", "reader", "-n", ns, "--role=reader",
                         "--user=reader")  # fmt: skip
    kube_cluster.wait_allowed("reader", "list", "executions.kontinue.cloud", ns)
    proxied = make_ui(auth=AuthMode.PROXY, proxy_secret=PROXY_SECRET)
    proxied.wait_cached({"held": "Executing"})
    as_reader = {"X-Kontinue-Proxy-Secret": PROXY_SECRET, "X-Forwarded-User": "reader"}
    token = proxied.csrf_token("/executions", **as_reader)
    answer = proxied.http.post(
        "/executions/bulk", data={**form, "csrf_token": token}, headers=as_reader
    )
    assert answer.status_code == 200
    page = html.unescape(answer.text)
    assert _REPORT_ROW.findall(page) == [("held", "refused")]
    assert 'User "reader" cannot patch resource "executions"' in page
    assert "Some executions were refused or failed" in page
    assert not client.get("held")["spec"].get("cancel")
    # a stranger who may list nothing in the namespace: refused before anything is selected
    stranger = {"X-Kontinue-Proxy-Secret": PROXY_SECRET, "X-Forwarded-User": "stranger"}
    blocked = proxied.http.post(
        "/executions/bulk", data={**form, "csrf_token": token}, headers=stranger
    )
    assert blocked.status_code == 403
    assert not client.get("held")["spec"].get("cancel")


# -- retry and fork ------------------------------------------------------------------------------


def test_retry_and_fork_are_refused_without_rights_token_or_fitting_phase(
    make_ui: MakeUi, client: Client, kube_cluster: TestCluster
) -> None:
    namespace = client.namespace
    steps = {"prepare": {"type": "store", "index": 0}, "deploy": {"type": "store", "index": 1}}
    _execution(client, "broken", "alpha", {**_finished("Failed", 5), "steps": steps})
    _execution(client, "fine", "alpha", _finished("Completed", 6))
    read_only = make_ui()
    read_only.wait_cached({"broken": "Failed", "fine": "Completed"})
    for action in ("retry", "fork"):
        answer = read_only.http.post(f"/executions/{namespace}/broken/{action}")
        assert answer.status_code == 403, action
        assert "this UI is read-only" in _refusal(answer)

    # a reader may look but not patch (retry) nor create (fork): the API server's 403
    resources = "executions.kontinue.cloud,suspensions.kontinue.cloud,jobs"
    kube_cluster.kubectl("create", "role", "looker", "-n", namespace,
                         "--verb=get,list,watch", f"--resource={resources}")  # fmt: skip
    kube_cluster.kubectl("create", "rolebinding", "looker", "-n", namespace,
                         "--role=looker", "--user=looker")  # fmt: skip
    kube_cluster.wait_allowed("looker", "list", "jobs", namespace)
    proxied = make_ui(auth=AuthMode.PROXY, proxy_secret=PROXY_SECRET)
    as_looker = {"X-Kontinue-Proxy-Secret": PROXY_SECRET, "X-Forwarded-User": "looker"}
    token = proxied.csrf_token(f"/executions/{namespace}/broken", **as_looker)
    refused = proxied.http.post(
        f"/executions/{namespace}/broken/retry", data={"csrf_token": token}, headers=as_looker
    )
    assert refused.status_code == 403
    assert 'User "looker" cannot patch resource "executions"' in _refusal(refused)
    refused = proxied.http.post(
        f"/executions/{namespace}/broken/fork",
        data={"csrf_token": token, "step": "deploy"},
        headers=as_looker,
    )
    assert refused.status_code == 403
    assert 'User "looker" cannot create resource "executions"' in _refusal(refused)
    assert "retryRequest" not in client.get("broken")["spec"]
    assert [e["metadata"]["name"] for e in client.list()] == ["broken", "fine"]

    ui = make_ui(anonymous_actions=True)
    ui.wait_cached({"broken": "Failed", "fine": "Completed"})
    broken_page, fine_page = (
        ui.page(f"/executions/{namespace}/broken"),
        ui.page(f"/executions/{namespace}/fine"),
    )
    assert f"/executions/{namespace}/broken/retry" in broken_page
    assert f"/executions/{namespace}/fine/retry" not in fine_page  # completed: no Retry
    assert '<option value="deploy">2. deploy</option>' in broken_page
    for form in ({}, {"csrf_token": "forged"}):
        for action in ("retry", "fork"):
            answer = ui.http.post(f"/executions/{namespace}/broken/{action}", data=form)
            assert answer.status_code == 400, (action, form)

    # the wrong phase and an unknown step: a flash message, nothing written
    token = ui.csrf_token(f"/executions/{namespace}/fine")
    version = client.get("fine")["metadata"]["resourceVersion"]
    answer = ui.http.post(f"/executions/{namespace}/fine/retry", data={"csrf_token": token})
    assert answer.status_code == 303
    assert "is Completed: only a Failed or Canceled execution can be retried" in ui.page(
        f"/executions/{namespace}/fine"
    )
    assert client.get("fine")["metadata"]["resourceVersion"] == version
    answer = ui.http.post(
        f"/executions/{namespace}/broken/fork", data={"csrf_token": token, "step": "ship"}
    )
    assert answer.status_code == 303
    assert "has no step 'ship'; its steps are: 1. prepare, 2. deploy" in ui.page(
        f"/executions/{namespace}/broken"
    )

    # accepted: a retry request, and a fork named as asked
    answer = ui.http.post(f"/executions/{namespace}/broken/retry", data={"csrf_token": token})
    assert answer.status_code == 303
    assert "Retry requested for broken" in ui.page(f"/executions/{namespace}/broken")
    assert client.get("broken")["spec"]["retryRequest"]["finishedAt"] == "2030-01-01T10:00:05Z"
    answer = ui.http.post(
        f"/executions/{namespace}/broken/fork",
        data={"csrf_token": token, "step": "deploy", "new_name": "broken-again"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/executions/{namespace}/broken-again")
    fork = client.get("broken-again")
    assert fork["spec"]["forkOf"]["step"] == "deploy" and fork["spec"]["forkOf"]["index"] == 1


# -- events --------------------------------------------------------------------------------------


def _signals(client: Client) -> list[dict[str, Any]]:
    return list(client.kube.list(kubeapi.SIGNALS, client.namespace)["items"])


def test_send_event_is_refused_read_only_forbidden_or_without_csrf(
    make_ui: MakeUi, client: Client, kube_cluster: TestCluster
) -> None:
    namespace = client.namespace
    _execution(client, "awaiting", "alpha", {
        "phase": "Suspended", "suspendedOn": [{"kind": "Signal", "name": "approve", "first": True}],
    })  # fmt: skip
    path = f"/executions/{namespace}/awaiting"

    read_only = make_ui()
    read_only.wait_cached({"awaiting": "Suspended"})
    page = read_only.page(path)
    assert "Waiting for event <strong>approve</strong>" in page
    assert "Send event" not in page  # no form in a read-only UI
    answer = read_only.http.post(f"{path}/signal", data={"event": "approve"})
    assert answer.status_code == 403
    assert "this UI is read-only: actions are turned off" in _refusal(answer)

    resources = "executions.kontinue.cloud,suspensions.kontinue.cloud,signals.kontinue.cloud,jobs"
    kube_cluster.kubectl("create", "role", "watcher", "-n", namespace,
                         "--verb=get,list,watch", f"--resource={resources}")  # fmt: skip
    kube_cluster.kubectl("create", "rolebinding", "watcher", "-n", namespace,
                         "--role=watcher", "--user=watcher")  # fmt: skip
    kube_cluster.wait_allowed("watcher", "list", "signals.kontinue.cloud", namespace)
    proxied = make_ui(auth=AuthMode.PROXY, proxy_secret=PROXY_SECRET)
    as_watcher = {"X-Kontinue-Proxy-Secret": PROXY_SECRET, "X-Forwarded-User": "watcher"}
    token = proxied.csrf_token(path, **as_watcher)
    refused = proxied.http.post(
        f"{path}/signal", data={"csrf_token": token, "event": "approve"}, headers=as_watcher
    )
    assert refused.status_code == 403
    assert 'User "watcher" cannot create resource "signals"' in _refusal(refused)

    ui = make_ui(anonymous_actions=True)
    ui.wait_cached({"awaiting": "Suspended"})
    for form in ({"event": "approve"}, {"event": "approve", "csrf_token": "forged"}):
        assert ui.http.post(f"{path}/signal", data=form).status_code == 400
    assert _signals(client) == []

    token = ui.csrf_token(path)
    bad = ui.http.post(f"{path}/signal", data={"csrf_token": token, "event": "approve",
                                               "data": "{not json"})  # fmt: skip
    assert bad.status_code == 303 and _signals(client) == []
    sent = ui.http.post(f"{path}/signal", data={
        "csrf_token": token, "event": "approve", "data": '{"by": "ui"}', "id": "ui-1",
    })  # fmt: skip
    assert sent.status_code == 303
    ui.http.post(f"{path}/signal", data={"csrf_token": token, "event": "approve",
                                         "data": '{"by": "ui"}', "id": "ui-1"})  # fmt: skip
    [signal] = _signals(client)
    assert signal["spec"] == {
        "execution": "awaiting", "event": "approve", "id": "ui-1", "data": {"by": "ui"},
    }  # fmt: skip
    shown = " ".join(ui.page(path).split())
    assert "buffered" in shown and "id ui-1" in shown


def test_send_event_to_a_finished_execution_says_so_and_creates_nothing(
    make_ui: MakeUi, client: Client
) -> None:
    _execution(client, "over", "alpha", _finished("Completed", 1))
    _execution(client, "running", "alpha", {"phase": "Executing"})
    ui = make_ui(anonymous_actions=True)
    ui.wait_cached({"over": "Completed", "running": "Executing"})
    path = f"/executions/{client.namespace}/over"
    assert "Send event" not in ui.page(path)
    token = ui.csrf_token(f"/executions/{client.namespace}/running")  # the session's token
    answer = ui.http.post(f"{path}/signal", data={"csrf_token": token, "event": "go"})
    assert answer.status_code == 303
    assert "already finished (Completed)" in ui.page(path)
    assert _signals(client) == []
