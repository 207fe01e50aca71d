"""The web UI in a real browser (Playwright driving Debian's headless Chromium).

Every test runs ``kontinue-ui`` as a process (gunicorn) against the real control plane, with
real workers where workflows run. Screenshots go to ``test-artifacts/ui/``.

Two modes: the default (no auth mode: read-only, reads with the UI's own rights), and the
authenticated writable mode behind an authenticating proxy (``--auth proxy``). The browser
plays the proxy's part: its context adds the shared secret and the user's name to every
request, as oauth2-proxy would; the user acts and reads with their own RBAC.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)

from kontinue.client import Client, kubeapi
from kontinue_testkit.pytest_plugin import (
    StartUi,
    StartWorker,
    TestCluster,
    UiProcess,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM_ENV = "KONTINUE_CHROMIUM"


def chromium_path() -> str:
    """Debian's Chromium (or ``$KONTINUE_CHROMIUM``); a clear failure when it is missing."""
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            f"the UI tests need Chromium: apt-get install chromium (or set {CHROMIUM_ENV})",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium driven by Playwright."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            launched.close()


def screenshot_path(name: str) -> str:
    """Where a test's screenshot goes (kept as a CI artifact)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


# -- helpers -------------------------------------------------------------------------------------

FLOWS = Path(__file__).parent / "workflows"


def _create_many(client: Client, count: int) -> dict[tuple[str, str], int]:
    """``count`` executions of two functions in four phases, written directly (no worker)."""
    phases = ["Completed"] * 5 + ["Failed"] * 2 + ["Canceled"] + ["Pending"] * 2
    expected: dict[tuple[str, str], int] = {}

    def one(i: int) -> None:
        function = "alpha" if i % 2 else "beta"
        phase = phases[i % len(phases)]
        name = f"bulk-{i:04d}"
        client.kube.create(
            kubeapi.EXECUTIONS,
            client.namespace,
            {
                "apiVersion": "kontinue.cloud/v1alpha1",
                "kind": "Execution",
                "metadata": {"name": name, "labels": {"batch": str(i % 3)}},
                "spec": {"function": function, "cancel": phase == "Canceled"},
            },
        )
        if phase != "Pending":
            client.kube.merge_patch(
                kubeapi.EXECUTIONS,
                client.namespace,
                name,
                {
                    "status": {
                        "phase": phase,
                        "message": f"{phase.lower()} on purpose",
                        "startedAt": "2030-01-01T10:00:00Z",
                        "finishedAt": f"2030-01-01T10:00:{i % 60:02d}Z",
                    }
                },
                subresource="status",
            )

    for i in range(count):
        key = ("alpha" if i % 2 else "beta", phases[i % len(phases)])
        expected[key] = expected.get(key, 0) + 1
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))
    return expected


@dataclass
class ProxiedUi:
    """A UI behind a (played) authenticating proxy: ``as_user`` is a browser signed in."""

    ui: UiProcess
    secret: str
    browser: Browser

    @property
    def url(self) -> str:
        """The UI's address (as the proxy reaches it)."""
        return self.ui.url

    def headers(self, user: str, groups: str = "") -> dict[str, str]:
        """What the proxy adds to each request of ``user``."""
        headers = {"X-Kontinue-Proxy-Secret": self.secret, "X-Forwarded-User": user}
        if groups:
            headers["X-Forwarded-Groups"] = groups
        return headers

    def as_user(self, user: str, groups: str = "", **options: object) -> BrowserContext:
        """A browser context whose every request comes through the proxy as ``user``."""
        return self.browser.new_context(
            extra_http_headers=self.headers(user, groups),
            **options,  # type: ignore[arg-type]
        )


USER_RULES = [  # what the chart's <fullname>.<namespace>.edit ClusterRole grants
    {"apiGroups": ["kontinue.cloud"], "verbs": ["get", "list", "watch"],
     "resources": ["executions", "suspensions", "scheduledexecutions", "functions"]},
    {"apiGroups": ["kontinue.cloud"], "resources": ["executions"], "verbs": ["create", "patch"]},
    {"apiGroups": ["kontinue.cloud"], "resources": ["suspensions/status"], "verbs": ["patch"]},
    {"apiGroups": ["kontinue.cloud"], "resources": ["scheduledexecutions"], "verbs": ["patch"]},
    {"apiGroups": ["kontinue.cloud"], "resources": ["scheduledexecutions/finalizers"],
     "verbs": ["update"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]  # fmt: skip


def grant(
    cluster: TestCluster,
    namespace: str,
    name: str,
    rules: Sequence[Mapping[str, Any]],
    **subject: str,
) -> None:
    """A Role with ``rules`` bound to ``user=...`` or ``group=...`` in ``namespace``."""
    ((kind, who),) = subject.items()
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name}, "rules": rules}  # fmt: skip
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": kind.capitalize(),
                      "name": who}],
    }  # fmt: skip
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all([role, binding]))
    first = rules[0]
    resource = f"{first['resources'][0]}.{first['apiGroups'][0]}".rstrip(".")
    if kind == "user":
        cluster.wait_allowed(who, first["verbs"][0], resource, namespace)
    else:
        cluster.wait_allowed("a-member", first["verbs"][0], resource, namespace, groups=(who,))


@pytest.fixture
def proxied_ui(
    start_ui: StartUi, browser: Browser, kube_cluster: TestCluster, namespace: str, tmp_path: Path
) -> Callable[..., ProxiedUi]:
    """``proxied_ui(*flags)``: a UI with ``--auth proxy``; the user ``tester`` may use kontinue
    in the test's namespace (the chart's edit rights)."""
    grant(kube_cluster, namespace, "tester-edits", USER_RULES, user="tester")

    def start(*flags: str) -> ProxiedUi:
        secret = secrets.token_hex(24)
        path = tmp_path / f"proxy-secret-{secret[:6]}"
        path.write_text(secret)
        ui = start_ui("--auth", "proxy", "--proxy-secret-file", str(path), *flags)
        return ProxiedUi(ui, secret, browser)

    return start


def _no_policy_violations(page: Page) -> list[str]:
    """Collects what the browser reports the Content-Security-Policy refused."""
    refused: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    page.on("console", seen)
    return refused


def _live_marker(page: Page) -> None:
    page.evaluate("window.__sameDocument = true")


def _same_document(page: Page) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


# -- the tests -----------------------------------------------------------------------------------


def test_list_of_a_thousand_filters_and_pages(
    start_ui: StartUi, browser: Browser, client: Client
) -> None:
    expected = _create_many(client, 1000)
    ui = start_ui()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(ui.url + "/executions")
    expect(page.locator("#page-position")).to_contain_text("Page 1 of 20 · 1000 executions")
    expect(page.locator("#execution-table tbody tr")).to_have_count(50)
    page.screenshot(path=screenshot_path("list-1000"), full_page=True)

    page.select_option("select[name=phase]", "Failed")
    page.select_option("select[name=function]", "alpha")
    page.click("form.filters button[type=submit]")
    failed_alpha = expected[("alpha", "Failed")]
    expect(page.locator("#execution-table")).to_have_attribute("data-total", str(failed_alpha))
    phases = page.locator("#execution-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.phase + ' ' + r.children[2].textContent.trim())"
    )
    assert phases and set(phases) == {"Failed alpha"}
    pages = -(-failed_alpha // 50)
    expect(page.locator("#page-position")).to_contain_text(f"Page 1 of {pages}")

    first = page.locator("#execution-table tbody tr").first.get_attribute("data-name")
    page.click("a[rel=next]")
    expect(page.locator("#page-position")).to_contain_text(f"Page 2 of {pages}")
    second = page.locator("#execution-table tbody tr").first.get_attribute("data-name")
    assert first != second
    assert "phase=Failed" in page.url and "function=alpha" in page.url and "page=2" in page.url

    page.goto(ui.url + "/executions?label=batch%3D1&sort=name&order=asc")
    names = page.locator("#execution-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.name)"
    )
    assert names == sorted(names) and all(int(n.split("-")[1]) % 3 == 1 for n in names)
    page.screenshot(path=screenshot_path("list-filtered"), full_page=True)

    # a change arrives without a reload
    _live_marker(page)
    client.cancel(names[0])
    client.kube.merge_patch(
        kubeapi.EXECUTIONS, client.namespace, names[0], {"status": {"phase": "Canceled"}},
        subresource="status",
    )  # fmt: skip
    expect(page.locator(f"tr[data-name={names[0]}]")).to_have_attribute("data-phase", "Canceled")
    assert _same_document(page)


def test_watch_progress_approve_and_complete(
    proxied_ui: Callable[..., ProxiedUi], start_worker: StartWorker, client: Client
) -> None:
    start_worker("ui_flows", path=FLOWS, hold=60)
    ui = proxied_ui()
    created = client.create_execution("paced-approval", {"before": 4, "pause": 1.0})
    name = created["metadata"]["name"]
    page = ui.as_user("tester", viewport={"width": 1400, "height": 1100}).new_page()
    refused = _no_policy_violations(page)
    page.goto(f"{ui.url}/executions/{client.namespace}/{name}")
    expect(page.locator("header .user")).to_have_text("tester")
    _live_marker(page)

    seen_progress: set[str] = set()
    seen_steps: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not page.locator(".suspension").count():
        current = (
            page.locator("#progress").get_attribute("data-current")
            if page.locator("#progress").count()
            else None
        )
        if current is not None:
            seen_progress.add(current)
        seen_steps.add(page.locator("#timeline li").count())
        page.wait_for_timeout(150)
    assert page.locator(".suspension").count(), "the approval never showed"
    assert len(seen_progress) >= 3, seen_progress  # the bar moved while we watched
    assert len(seen_steps) >= 3, seen_steps  # and the timeline grew
    assert _same_document(page), "the page was reloaded"
    expect(page.locator("#children")).to_contain_text(f"{name}--execute-1")
    expect(page.locator("#message")).to_have_text("waiting for approval")
    page.screenshot(path=screenshot_path("approval-waiting"), full_page=True)

    page.fill("textarea[name=data]", '{"approved": true, "by": "browser"}')
    page.click(".resume-form button[type=submit]")
    expect(page.locator(".flash-info")).to_contain_text("Resumed")
    expect(page.locator("#live")).to_have_attribute("data-phase", "Completed", timeout=60_000)
    expect(page.locator("#result")).to_contain_text('"by": "browser"')
    done = client.get(name)
    assert done["status"]["result"]["approval"] == {"approved": True, "by": "browser"}
    assert done["status"]["result"]["child"] == "child one done"
    suspension = client.kube.get(kubeapi.SUSPENSIONS, client.namespace, f"{name}--approval")
    assert suspension["status"]["resumedBy"] == "tester"  # the user the proxy named
    page.screenshot(path=screenshot_path("approval-completed"), full_page=True)
    assert refused == []  # the pages need nothing the Content-Security-Policy forbids


def test_start_from_the_form_with_a_field_error(
    proxied_ui: Callable[..., ProxiedUi], start_worker: StartWorker, client: Client
) -> None:
    start_worker("kontinue_examples.deploy_pipeline", path=ROOT / "examples", hold=5)
    ui = proxied_ui()
    page = ui.as_user("tester", viewport={"width": 1300, "height": 1000}).new_page()
    page.goto(ui.url + "/start")
    page.click("tr:has-text('deploy-pipeline') a:has-text('Start')")
    expect(page.locator("#arg-service")).to_be_visible()
    assert page.locator("#arg-replicas").input_value() == "2"  # the schema's default
    page.fill("#arg-service", "web")
    page.fill("#arg-replicas", "many")
    page.fill("#opt-timeout", "soon")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("form.start-form button[type=submit]")
    assert answer.value.status == 422
    expect(page.locator("[data-field=replicas]")).to_have_text("Replicas must be a whole number")
    expect(page.locator("[data-field=timeout]")).to_contain_text("invalid duration")
    assert page.locator("#arg-service").input_value() == "web"  # what was typed stays
    page.screenshot(path=screenshot_path("start-field-error"), full_page=True)
    assert client.list(function="deploy-pipeline") == []

    page.fill("#arg-replicas", "3")
    page.fill("#opt-timeout", "10m")
    page.fill("#opt-retries", "2")
    page.click("form.start-form button[type=submit]")
    page.wait_for_url(f"**/executions/{client.namespace}/deploy-pipeline-*")
    name = page.url.rsplit("/", 1)[1]
    expect(page.locator("#live")).to_have_attribute("data-phase", "Completed", timeout=60_000)
    execution = client.get(name)
    assert execution["spec"]["arguments"] == {  # the form submits the defaults it showed
        "service": "web", "version": "1.0.0", "environment": "staging", "replicas": 3,
    }  # fmt: skip
    assert execution["spec"]["retry"]["retries"] == 2
    assert execution["spec"]["timeout"]["overall"] == "10m"


def test_cancel_from_the_page(
    proxied_ui: Callable[..., ProxiedUi], start_worker: StartWorker, client: Client
) -> None:
    start_worker("ui_flows", path=FLOWS, hold=1)
    ui = proxied_ui()
    name = client.create_execution("long-wait")["metadata"]["name"]
    page = ui.as_user("tester").new_page()
    page.goto(f"{ui.url}/executions/{client.namespace}/{name}")
    expect(page.locator("#live")).to_have_attribute("data-phase", "Suspended", timeout=60_000)
    expect(page.locator(".suspension")).to_contain_text("Sleeping until")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Cancel')")
    expect(page.locator(".flash-info")).to_contain_text("Cancel requested")
    expect(page.locator("#live")).to_have_attribute("data-phase", "Canceled", timeout=60_000)
    assert client.get(name)["spec"]["cancel"] is True
    page.screenshot(path=screenshot_path("canceled"), full_page=True)

    # a sleep ended early with "Resume now"
    sleeper = client.create_execution("long-wait")["metadata"]["name"]
    page.goto(f"{ui.url}/executions/{client.namespace}/{sleeper}")
    expect(page.locator("#live")).to_have_attribute("data-phase", "Suspended", timeout=60_000)
    page.click("button:has-text('Resume now')")
    expect(page.locator("#live")).to_have_attribute("data-phase", "Completed", timeout=60_000)
    expect(page.locator("#result")).to_contain_text("woke up")


def test_retry_and_fork_from_the_page(
    proxied_ui: Callable[..., ProxiedUi],
    start_worker: StartWorker,
    client: Client,
    tmp_path: Path,
) -> None:
    start_worker("retry_flows", path=FLOWS, hold=1)
    ui = proxied_ui()
    fixed = tmp_path / "fixed"
    name = client.create_execution("needs-fix", {"fixed": str(fixed)})["metadata"]["name"]
    page = ui.as_user("tester").new_page()
    page.goto(f"{ui.url}/executions/{client.namespace}/{name}")
    expect(page.locator("#live")).to_have_attribute("data-phase", "Failed", timeout=60_000)
    expect(page.locator("#error")).to_contain_text("not fixed yet")
    fixed.touch()  # the fix
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Retry')")
    expect(page.locator(".flash-info")).to_contain_text(f"Retry requested for {name}")
    expect(page.locator("#live")).to_have_attribute("data-phase", "Completed", timeout=60_000)
    expect(page.locator("#result")).to_contain_text("fixed")
    assert client.get(name)["status"]["retried"]["count"] == 1
    page.screenshot(path=screenshot_path("retried"), full_page=True)

    # fork from its first step: a new execution runs the step again
    page.select_option("#fork select", "check")
    page.fill("#fork input[name=new_name]", f"{name}-again")
    page.click("#fork button:has-text('Fork')")
    expect(page.locator(".flash-info")).to_contain_text(f"Forked {name} from step check")
    expect(page.locator("h1")).to_contain_text("needs-fix")
    assert page.url.endswith(f"/executions/{client.namespace}/{name}-again")
    expect(page.locator("#live")).to_have_attribute("data-phase", "Completed", timeout=60_000)
    fork = client.get(f"{name}-again")
    assert fork["spec"]["forkOf"]["name"] == name and fork["status"]["forkedFrom"]["steps"] == 0
    page.screenshot(path=screenshot_path("forked"), full_page=True)


def test_read_only_and_csrf(
    start_ui: StartUi,
    proxied_ui: Callable[..., ProxiedUi],
    start_worker: StartWorker,
    browser: Browser,
    client: Client,
) -> None:
    """The default UI (no auth mode) is read-only; the authenticated one checks CSRF."""
    start_worker("ui_flows", path=FLOWS, hold=1)
    name = client.create_execution("long-wait")["metadata"]["name"]
    wait_for("the sleep", lambda: client.phase(name) == "Suspended", timeout=60)
    read_only = start_ui()  # the default
    normal = proxied_ui()
    detail = f"/executions/{client.namespace}/{name}"

    page = browser.new_page()
    page.goto(read_only.url + detail)
    expect(page.locator("#live")).to_have_attribute("data-phase", "Suspended")
    expect(page.locator("button")).to_have_count(0)  # no Cancel, no Resume now
    expect(page.locator("header nav")).not_to_contain_text("Start")
    page.screenshot(path=screenshot_path("read-only"), full_page=True)
    # every mutation is refused, with or without a token, and the start form is not served
    form = b"csrf_token=x&suspension=" + f"{name}--sleep-1".encode()
    for path in ("/cancel", "/resume"):
        status, body = read_only.request("POST", detail + path, data=form)
        assert status == 403 and "read-only" in body, (path, status)
    assert read_only.request("POST", "/schedules/x/y/trigger", data=b"")[0] == 403
    assert read_only.request("POST", "/start/ns/default/long-wait", data=b"")[0] == 403
    response = page.request.post(read_only.url + detail + "/cancel")
    assert response.status == 403

    # even --read-only turns actions off for an authenticated user
    forced = proxied_ui("--read-only")
    status, body = forced.ui.request(
        "POST", detail + "/cancel", data=form, headers=forced.headers("tester")
    )
    assert status == 403 and "read-only" in body

    # the authenticated UI: a forged POST (no CSRF token, or a wrong one) is refused
    status, body = normal.ui.request(
        "POST", detail + "/cancel", data=b"", headers=normal.headers("tester")
    )
    assert status == 400 and "CSRF" in body
    other = normal.as_user("tester").new_page()
    other.goto(normal.url + detail)
    expect(other.locator("button:has-text('Cancel')")).to_be_visible()
    forged = other.request.post(normal.url + detail + "/cancel", form={"csrf_token": "forged"})
    assert forged.status == 400
    assert client.get(name)["spec"].get("cancel") is not True
    assert client.phase(name) == "Suspended"


def test_authenticated_user_without_rights_is_forbidden(
    proxied_ui: Callable[..., ProxiedUi],
    start_worker: StartWorker,
    browser: Browser,
    client: Client,
    kube_cluster: TestCluster,
) -> None:
    start_worker("ui_flows", path=FLOWS, hold=1)
    ns = client.namespace
    read = {"apiGroups": ["kontinue.cloud"], "verbs": ["get", "list", "watch"],
            "resources": ["executions", "suspensions"]}  # fmt: skip
    jobs = {"apiGroups": ["batch"], "verbs": ["get", "list", "watch"], "resources": ["jobs"]}
    patch = {"apiGroups": ["kontinue.cloud"], "verbs": ["patch"], "resources": ["executions"]}
    grant(kube_cluster, ns, "alice-views", [read, jobs], user="alice")
    grant(kube_cluster, ns, "ops-operate", [read, jobs, patch], group="ops")
    name = client.create_execution("long-wait")["metadata"]["name"]
    wait_for("the sleep", lambda: client.phase(name) == "Suspended", timeout=60)
    ui = proxied_ui()
    detail = f"{ui.url}/executions/{ns}/{name}"

    page = ui.as_user("alice").new_page()
    page.goto(detail)
    expect(page.locator("header")).to_contain_text("alice")
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("button:has-text('Cancel')")
    assert answer.value.status == 403
    expect(page.locator("h1")).to_contain_text("403 Forbidden")
    expect(page.locator(".error-message")).to_contain_text('User "alice" cannot patch resource')
    expect(page.locator(".error-page")).to_contain_text("Nothing was changed")
    page.screenshot(path=screenshot_path("forbidden"), full_page=True)
    assert client.get(name)["spec"].get("cancel") is not True

    # not through the proxy (no secret), whatever the headers say: not signed in
    for headers in ({}, {"X-Forwarded-User": "bob", "X-Forwarded-Groups": "ops,system:masters"}):
        anonymous = browser.new_context(extra_http_headers=headers).new_page()
        refused = anonymous.goto(detail)
        assert refused is not None and refused.status == 401
        expect(anonymous.locator("h1")).to_contain_text("401")
        expect(anonymous.locator("button")).to_have_count(0)
    # a user without read rights does not see the execution at all
    stranger = ui.as_user("mallory").new_page()
    refused = stranger.goto(detail)
    assert refused is not None and refused.status == 403
    expect(stranger.locator(".error-message")).to_contain_text('User "mallory" cannot get')
    expect(stranger.locator("#live")).to_have_count(0)

    # a member of a group with the right may
    operator = ui.as_user("bob", "ops").new_page()
    operator.goto(detail)
    operator.on("dialog", lambda dialog: dialog.accept())
    operator.click("button:has-text('Cancel')")
    expect(operator.locator(".flash-info")).to_contain_text("Cancel requested")
    expect(operator.locator("#live")).to_have_attribute("data-phase", "Canceled", timeout=60_000)


def test_prefix_functions_schedules_and_job_logs(
    proxied_ui: Callable[..., ProxiedUi], start_worker: StartWorker, client: Client
) -> None:
    start_worker("job_flows", path=FLOWS, hold=1, name="jobs")
    start_worker("ui_flows", path=FLOWS, hold=1, name="flows")
    printed = "migrating\\nERROR: column 'id' already exists\\n"
    name = client.create_execution("script-with-logs", {"printed": printed})["metadata"]["name"]
    client.wait(name, timeout=90)
    schedule = "nightly"
    client.kube.create(
        kubeapi.SCHEDULED_EXECUTIONS,
        client.namespace,
        {
            "apiVersion": "kontinue.cloud/v1alpha1",
            "kind": "ScheduledExecution",
            "metadata": {"name": schedule},
            "spec": {"schedule": "0 3 * * *", "function": "ui-child", "arguments": "nightly",
                     "suspend": True},
        },
    )  # fmt: skip
    ui = proxied_ui("--path-prefix", "/kontinue")
    page = ui.as_user("tester", viewport={"width": 1300, "height": 900}).new_page()

    # behind an ingress that keeps the prefix, and one that strips it: links carry it
    for path in ("/kontinue/executions", "/executions"):
        page.goto(ui.url + path)
        link = page.locator(f"tr[data-name={name}] a")
        assert link.get_attribute("href") == f"/kontinue/executions/{client.namespace}/{name}"
    page.click(f"tr[data-name={name}] a")
    expect(page.locator("#live")).to_have_attribute("data-phase", "Completed")
    page.click("#logs-script-1 summary")
    expect(page.locator("#logs-script-1 .logs-text")).to_contain_text("column 'id' already exists")
    page.screenshot(path=screenshot_path("job-logs"), full_page=True)

    page.goto(ui.url + "/kontinue/functions")
    row = page.locator("tr[data-function=script-with-logs]")
    expect(row).to_contain_text("jobs")  # the worker serving it
    expect(row).to_contain_text("ago")
    expect(page.locator("tr[data-function=paced-approval]")).to_contain_text("flows")

    page.goto(ui.url + "/kontinue/schedules")
    row = page.locator(f"tr[data-schedule={schedule}]")
    expect(row).to_contain_text("suspended")
    row.locator("button:has-text('Trigger now')").click()
    expect(page.locator(".flash-info")).to_contain_text(f"Started {schedule}-manual-")
    runs = client.list(label_selector=f"kontinue.cloud/scheduled-execution={schedule}")
    assert len(runs) == 1 and runs[0]["spec"]["function"] == "ui-child"
    page.locator(f"tr[data-schedule={schedule}] button:has-text('Unsuspend')").click()
    expect(page.locator(".flash-info")).to_contain_text(f"Unsuspended {schedule}")
    got = client.kube.get(kubeapi.SCHEDULED_EXECUTIONS, client.namespace, schedule)
    assert got["spec"]["suspend"] is False
    page.screenshot(path=screenshot_path("schedules"), full_page=True)
    assert client.wait(runs[0]["metadata"]["name"], timeout=60)["status"]["result"] == (
        "child nightly done"
    )


def test_bulk_cancel_from_the_list(
    proxied_ui: Callable[..., ProxiedUi], start_worker: StartWorker, client: Client
) -> None:
    start_worker("ui_flows", path=FLOWS, hold=1)
    ui = proxied_ui()
    sleepers = [client.create_execution("long-wait")["metadata"]["name"] for _ in range(4)]
    for name in sleepers:
        wait_for(f"{name} asleep", lambda n=name: client.phase(n) == "Suspended", timeout=60)  # type: ignore[misc]
    page = ui.as_user("tester", viewport={"width": 1400, "height": 1000}).new_page()
    refused = _no_policy_violations(page)
    page.goto(ui.url + "/executions")
    _live_marker(page)
    picked, kept = sleepers[:3], sleepers[3]
    for name in picked:
        page.check(f"input.pick[value='{client.namespace}/{name}']")
    page.wait_for_timeout(2500)  # a live refresh or two: the checks stay
    assert _same_document(page)
    for name in picked:
        expect(page.locator(f"input.pick[value='{client.namespace}/{name}']")).to_be_checked()
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#bulk button[value=cancel]")
    expect(page.locator("h1")).to_contain_text("Cancel: 3 executions")
    for name in picked:
        expect(page.locator(f"#bulk-report tr[data-name='{name}']")).to_have_attribute(
            "data-result", "done"
        )
    expect(page.locator("[data-result-count=done]")).to_have_text("3 done")
    page.screenshot(path=screenshot_path("bulk-cancel-report"), full_page=True)
    for name in picked:
        assert client.wait(name, timeout=60)["status"]["phase"] == "Canceled"
    assert client.phase(kept) == "Suspended" and not client.get(kept)["spec"].get("cancel")

    # all matching the filters: the ones left are canceled, the finished ones skipped
    page.goto(ui.url + "/executions?function=long-wait")
    page.check("#bulk-all")
    page.click("#bulk button[value=cancel]")
    expect(page.locator("[data-result-count=done]")).to_have_text("1 done")
    expect(page.locator("[data-result-count=skipped]")).to_have_text("3 skipped")
    assert client.wait(kept, timeout=60)["status"]["phase"] == "Canceled"
    assert refused == []
