"""``kontinue dev`` from the checkout, and the CLI against a cluster without the CRDs.

Each test starts a control plane of its own (a few seconds).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from kontinue.devcluster import LocalCluster, find_testbin
from kontinue_testkit.pytest_plugin import KONTINUE, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _running(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


def _start_dev(log: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """``kontinue dev ARGS`` from the checkout, its output in ``log``."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [KONTINUE, "dev", *args], cwd=ROOT, env=env, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _wait_running(dev: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    wait_for(
        "kontinue dev to be ready",
        lambda: "kontinue is running." in log.read_text() or dev.poll() is not None,
        timeout=timeout,
    )
    assert dev.poll() is None, log.read_text()


def _hello(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """Once the worker registered the examples, ``kontinue execute hello-world ... --wait``."""
    wait_for(
        "hello-world to be registered",
        lambda: "hello-world" in subprocess.run(
            [KONTINUE, "functions"], env=env, capture_output=True, text=True
        ).stdout,
        timeout=60,
    )  # fmt: skip
    return subprocess.run(
        [KONTINUE, "execute", "hello-world", *arguments, "--wait"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_dev_runs_the_examples_and_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    workdir = tmp_path / "dev"
    log = tmp_path / "dev.log"
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    dev = _start_dev(log, env, "--workdir", str(workdir))
    try:
        _wait_running(dev, log, timeout=180)
        text = log.read_text()
        kubeconfig = re.search(r"export KUBECONFIG=(\S+)", text)
        assert kubeconfig is not None, text
        done = _hello({**env, "KUBECONFIG": kubeconfig.group(1)}, '{"name": "dev"}')
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "Completed" in done.stdout and '"Hello, dev!"' in done.stdout
        ui = re.search(r"UI:\s+(http://\S+)", text)
        assert ui is not None, text
        with urllib.request.urlopen(ui.group(1) + "executions?function=hello-world") as page:
            body = page.read().decode()
        assert page.status == 200 and "Hello, dev!" in body  # the UI lists it, with its message
        assert _running(str(workdir))  # the cluster, controller, worker and UI run from workdir
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(timeout=60)
    assert code == 0, log.read_text()
    assert log.read_text().rstrip().endswith("stopped.")
    time.sleep(0.5)
    assert _running(str(workdir)) == []


def test_a_cluster_without_the_crds_is_a_clear_error(tmp_path: Path) -> None:
    with LocalCluster(find_testbin(), tmp_path / "bare") as cluster:
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
        result = subprocess.run(
            [KONTINUE, "list"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "kontinue: the kontinue CRDs are not installed in this cluster "
        "(kubectl apply -f crds/, or helm install kontinue)"
    )


def test_dev_on_an_existing_cluster_leaves_that_cluster_running(tmp_path: Path) -> None:
    with LocalCluster(find_testbin(), tmp_path / "existing") as cluster:
        kubeconfig = tmp_path / "external.kubeconfig"  # a path only our processes mention
        shutil.copy(cluster.kubeconfig, kubeconfig)
        log = tmp_path / "dev.log"
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        dev = _start_dev(
            log, env, "--kubeconfig", str(kubeconfig), "--workdir", str(tmp_path / "dev"),
            "--ui-port", "0",
        )  # fmt: skip
        try:
            _wait_running(dev, log, timeout=120)
            assert "starting the local control plane" not in log.read_text()
            done = _hello({**env, "KUBECONFIG": str(kubeconfig)})  # the CRDs went in there
            assert done.returncode == 0 and '"Hello, World!"' in done.stdout, done.stdout
            assert len(_running(str(kubeconfig))) >= 3  # controller, worker, UI
        finally:
            dev.send_signal(signal.SIGINT)
            code = dev.wait(timeout=60)
        assert code == 0, log.read_text()
        time.sleep(0.5)
        assert _running(str(kubeconfig)) == []
        still = subprocess.run(  # the cluster kontinue dev was pointed at still runs
            [KONTINUE, "list", "-o", "name"],
            env={**env, "KUBECONFIG": str(kubeconfig)}, capture_output=True, text=True,
        )  # fmt: skip
        assert still.returncode == 0 and "hello-world-" in still.stdout, still.stderr
