"""skaffold for real, against the local cluster's real node.

No registry outside this machine is reachable and the node's runtime is not the Docker engine,
so the loop goes through a registry on 127.0.0.1 (Debian's ``docker-registry``) that the node's
containerd trusts: ``skaffold run`` builds the four images (FROM the Debian-built base images,
profile ``local-base``), pushes them there, deploys the chart and the example workflow runs;
``skaffold dev`` syncs a changed workflow file into the running worker, which restarts (the
chart's ``dev.reload``) and behaves as changed; Ctrl-C uninstalls.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kontinue.client import Client
from kontinue.devcluster.processes import Component, free_port
from kontinue_testkit.pytest_plugin import wait_for
from kontinue_testkit.realnode import RealNodeEnv, pod_logs, report, tool_env

pytestmark = [pytest.mark.real_node, pytest.mark.timeout(1500)]

NAMESPACE = "kontinue-system"  # skaffold.yaml's release namespace
WORKFLOWS = f"{NAMESPACE}-workflows"  # where the chart runs workflows by default
FLOWS = Path("examples/worker-image/workflows/release_train/flows.py")


@pytest.fixture(scope="module")
def registry(real_node: RealNodeEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1, trusted (plain HTTP) by the node's runtime."""
    workdir = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = workdir / "config.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }))  # fmt: skip
    server = Component("docker-registry", ["docker-registry", "serve", str(config)],
                       workdir / "registry.log")  # fmt: skip
    server.start()
    try:
        wait_for(
            "the registry",
            lambda: _answers(f"http://127.0.0.1:{port}/v2/") or not server.running(),
            timeout=30,
        )
        assert server.running(), server.log_tail()
        real_node.node.trust_local_registry(f"127.0.0.1:{port}")
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def checkout(real_node: RealNodeEnv, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's files (tracked and new, not ignored) for skaffold to build."""
    target = tmp_path_factory.mktemp("checkout")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=real_node.repo, capture_output=True, check=True, timeout=60,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        source = real_node.repo / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _skaffold_env(env: RealNodeEnv) -> dict[str, str]:
    base = dict(
        line.split("=", 1)
        for line in subprocess.run(
            ["bash", "hack/images/base-images.sh"], cwd=env.repo, capture_output=True,
            text=True, check=True, timeout=600,
        ).stdout.split()
    )  # fmt: skip
    return {
        **tool_env(env),
        "KONTINUE_PYTHON_IMAGE": base["PYTHON_IMAGE"],
        "KONTINUE_NODE_IMAGE": base["NODE_IMAGE"],
    }


def _release_build(client: Client, service: str) -> str:
    name = client.create_execution("release-build", {"service": service, "version": "1.0.0"})
    done = client.wait(name["metadata"]["name"], timeout=180)["status"]
    assert done["phase"] == "Completed", done
    return str(done["result"])


def _pods(env: RealNodeEnv) -> list[dict[str, Any]]:
    items = env.cluster.get(NAMESPACE, "pods", "-l", "app.kubernetes.io/instance=kontinue")
    return [p for p in items["items"] if not p["metadata"].get("deletionTimestamp")]


def _workers(env: RealNodeEnv) -> list[dict[str, Any]]:
    component = "app.kubernetes.io/component"
    return [p for p in _pods(env) if p["metadata"]["labels"][component] == "worker"]


def test_skaffold_run_deploys_to_the_real_node(
    real_node: RealNodeEnv, registry: str, checkout: Path
) -> None:
    env = _skaffold_env(real_node)
    skaffold = str(real_node.tools_bin / "skaffold")
    common = ["-p", "local-base,push", "--default-repo", registry]
    started = time.monotonic()
    result = subprocess.run(
        [skaffold, "run", *common, "--port-forward=off"],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        print(pod_logs(real_node, NAMESPACE))
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])
    report(f"skaffold run (build, push to {registry}, helm deploy, Ready): "
           f"{time.monotonic() - started:.0f}s")  # fmt: skip
    pods = _pods(real_node)
    assert {p["spec"]["nodeName"] for p in pods} == {real_node.node.name}
    images = {c["image"] for p in pods for c in p["spec"]["containers"]}
    assert all(i.startswith(f"{registry}/kontinue-") for i in images), images
    client = Client(namespace=WORKFLOWS, kubeconfig=str(real_node.cluster.kubeconfig))
    assert _release_build(client, "payments") == "registry.local/payments:1.0.0"
    deleted = subprocess.run(
        [skaffold, "delete", *common], cwd=checkout, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert deleted.returncode == 0, deleted.stderr[-4000:]
    wait_for("skaffold delete to remove the pods", lambda: not _pods(real_node), timeout=120)


def test_skaffold_dev_syncs_a_change_and_ctrl_c_uninstalls(
    real_node: RealNodeEnv, registry: str, checkout: Path, tmp_path: Path
) -> None:
    env = _skaffold_env(real_node)
    skaffold = str(real_node.tools_bin / "skaffold")
    log = tmp_path / "skaffold-dev.log"
    with log.open("wb") as sink:
        dev = subprocess.Popen(
            [skaffold, "dev", "-p", "local-base,push", "--default-repo", registry,
             "--port-forward=off", "--cleanup=true"],
            cwd=checkout, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    client = Client(namespace=WORKFLOWS, kubeconfig=str(real_node.cluster.kubeconfig))
    try:
        started = time.monotonic()
        crashes: list[str] = []

        def deployed() -> bool:
            # a container that restarts while skaffold waits: keep its logs (skaffold's cleanup
            # removes the pods before the test could read them)
            restarted = [p for p in _pods(real_node)
                         for c in (p.get("status") or {}).get("containerStatuses") or []
                         if c.get("restartCount")]  # fmt: skip
            if restarted and not crashes:
                crashes.append(pod_logs(real_node, NAMESPACE))
            text = log.read_text(errors="replace")
            return "Watching for changes" in text or dev.poll() is not None

        wait_for("skaffold dev to deploy", deployed, timeout=1200)
        if crashes or dev.poll() is not None:
            kept = real_node.repo / "test-artifacts" / "skaffold-dev"
            kept.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, kept / "skaffold-dev.log")
            (kept / "restarted-pods.log").write_text("\n".join(crashes))
            raise AssertionError(f"skaffold dev failed or its pods restarted; see {kept}")
        report(f"skaffold dev up (dev targets built, pushed, deployed): "
               f"{time.monotonic() - started:.0f}s")  # fmt: skip
        assert _release_build(client, "ledger") == "registry.local/ledger:1.0.0"
        (worker_pod,) = _workers(real_node)

        flows = checkout / FLOWS
        flows.write_text(flows.read_text().replace('f"registry.local/', 'f"registry.dev-loop/'))
        synced = time.monotonic()
        wait_for(
            "the file to be synced",
            lambda: "Syncing 1 files" in log.read_text(errors="replace"),
            timeout=120,
        )

        def changed() -> bool:
            return _release_build(client, "ledger") == "registry.dev-loop/ledger:1.0.0"

        try:
            wait_for("the worker to run the changed workflow", changed, timeout=180)
        except AssertionError:
            kept = real_node.repo / "test-artifacts" / "skaffold-dev"
            kept.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, kept / "skaffold-dev.log")
            (kept / "pods.log").write_text(pod_logs(real_node, NAMESPACE, tail=200))
            raise
        report(f"skaffold dev: a changed workflow file ran {time.monotonic() - synced:.0f}s "
               f"after the edit (synced, worker restarted, no new image)")  # fmt: skip
        # synced into the same pod: no rebuild, no redeploy
        assert [p["metadata"]["name"] for p in _workers(real_node)] == [
            worker_pod["metadata"]["name"]
        ]
    finally:
        if dev.poll() is None:
            dev.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            dev.wait(timeout=300)
        except subprocess.TimeoutExpired:
            dev.kill()
            raise
    assert dev.returncode == 0, log.read_text(errors="replace")[-4000:]
    releases = real_node.cluster.helm("list", "-n", NAMESPACE, "-q").stdout.split()
    assert releases == [], releases
    wait_for("Ctrl-C to remove the pods", lambda: not _pods(real_node), timeout=120)
