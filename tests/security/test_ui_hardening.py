"""What the UI tells browsers, which forwarded headers it believes, how long a form
stays valid, how much it reads, and a signing key that GitOps renders leave alone.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
import yaml
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from kontinue_testkit.chart import CHART
from kontinue_testkit.pytest_plugin import StartUi, TestCluster
from kontinue_testkit.ui_session import CSRF_META as _CSRF

KEY = "a-signing-key-the-test-knows-" + "x" * 20


def test_security_headers_and_the_session_cookie(start_ui: StartUi) -> None:
    ui = start_ui()
    page = requests.get(f"{ui.url}/executions", timeout=30)
    assert page.status_code == 200
    headers = page.headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain HTTP
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    # the pages carry no inline script or style for the policy to have to allow
    assert (
        "<script>" not in page.text and " style=" not in page.text and "onsubmit" not in page.text
    )
    css = requests.get(f"{ui.url}/static/app.css", timeout=30)
    assert css.headers["X-Content-Type-Options"] == "nosniff"


def test_forwarded_headers_count_only_from_the_named_proxies(start_ui: StartUi) -> None:
    spoofed = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Prefix": "/evil",
    }
    default = start_ui()
    answer = requests.get(default.url + "/", headers=spoofed, allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    assert answer.headers["Location"] in ("/executions", f"{default.url}/executions")
    page = requests.get(f"{default.url}/executions", headers=spoofed, timeout=30)
    assert "/evil" not in page.text and "Secure" not in page.headers["Set-Cookie"]

    behind = start_ui("--forwarded-allow-ips", "127.0.0.1/32")
    trusted = {"X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/kontinue"}
    page = requests.get(f"{behind.url}/executions", headers=trusted, timeout=30)
    assert 'href="/kontinue/executions' in page.text  # links carry the proxy's prefix
    assert "Secure" in page.headers["Set-Cookie"]  # TLS ends at the proxy: the cookie is Secure
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def test_request_bodies_are_bounded(start_ui: StartUi) -> None:
    ui = start_ui("--max-content-length", "4096", "--anonymous-actions")
    big = {"csrf_token": "x", "data": "y" * 8192}
    answer = requests.post(f"{ui.url}/executions/ns/name/resume", data=big, timeout=30)
    assert answer.status_code == 413


def test_csrf_tokens_expire(
    start_ui: StartUi, monkeypatch: pytest.MonkeyPatch, kube_cluster: TestCluster, namespace: str
) -> None:
    monkeypatch.setenv("KONTINUE_UI_SECRET_KEY", KEY)
    ui = start_ui("--csrf-time-limit", "600", "--anonymous-actions")
    http = requests.Session()
    token = _CSRF.search(http.get(f"{ui.url}/executions", timeout=30).text)
    assert token is not None
    raw = URLSafeTimedSerializer(KEY, salt="wtf-csrf-token").loads(token.group(1))

    class _Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 601

    stale = URLSafeTimedSerializer(KEY, salt="wtf-csrf-token", signer=_Earlier).dumps(raw)
    target = f"{ui.url}/executions/{namespace}/missing/cancel"
    answer = http.post(target, data={"csrf_token": stale}, allow_redirects=False, timeout=30)
    assert answer.status_code == 400 and "expired" in answer.text
    # the same form, fresh, passes the CSRF check (and reaches the API: no such execution)
    answer = http.post(target, data={"csrf_token": token.group(1)}, timeout=30)
    assert answer.status_code == 404


def _render(cluster: TestCluster, *args: str) -> list[dict[str, object]]:
    out = cluster.helm("template", "kontinue", str(CHART), "-n", "kontinue-system", *args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _ui_checksum(objects: list[dict[str, object]]) -> str:
    (ui,) = [
        o for o in objects
        if o["kind"] == "Deployment" and str(o["metadata"]["name"]).endswith("-ui")  # type: ignore[index]
    ]  # fmt: skip
    template = ui["spec"]["template"]  # type: ignore[index]
    return str(template["metadata"]["annotations"]["checksum/secret-key"])


def test_the_signing_key_is_stable_across_renders(
    kube_cluster: TestCluster, tmp_path: Path
) -> None:
    # GitOps renders the chart again and again: nothing random may come out
    first, second = _render(kube_cluster), _render(kube_cluster)
    assert yaml.safe_dump_all(first) == yaml.safe_dump_all(second)
    assert not [o for o in first if o["kind"] == "Secret"]
    # a key given as a value: rendered, and the pods roll when it changes
    one = _render(kube_cluster, "--set", "ui.secretKey.value=one-key-of-enough-length")
    again = _render(kube_cluster, "--set", "ui.secretKey.value=one-key-of-enough-length")
    other = _render(kube_cluster, "--set", "ui.secretKey.value=another-key-of-enough-length")
    assert _ui_checksum(one) == _ui_checksum(again) != _ui_checksum(other)
    # an existing Secret: referenced, never rendered
    existing = _render(kube_cluster, "--set", "ui.secretKey.existingSecret=ui-key")
    assert not [o for o in existing if o["kind"] == "Secret"]
    # replicas must share a key: refused without one
    refused = kube_cluster.helm(
        "template", "kontinue", str(CHART), "--set", "ui.replicas=2", check=False
    )
    assert refused.returncode != 0 and "ui.secretKey.existingSecret" in refused.stderr
