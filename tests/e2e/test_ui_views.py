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
