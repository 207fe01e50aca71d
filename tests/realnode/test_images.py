"""The four images, built here (``hack/images/build.sh --local-base``), run as the chart runs
them: as their non-root user, with a read-only root file system, the entrypoint answering
``--help``; the worker base image runs a user's workflow package (examples/worker-image)
against the real local control plane."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kontinue_testkit.pytest_plugin import TestCluster, wait_for
from kontinue_testkit.realnode import BuiltImages

pytestmark = [pytest.mark.real_node, pytest.mark.timeout(900)]

ENTRYPOINTS = {
    "controller": "kontinue-controller",
    "worker": "kontinue-worker",
    "ui": "kontinue-ui",
    "example-worker": "kontinue-worker",
}


def _docker(
    images: BuiltImages, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [images.docker, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _run(images: BuiltImages, image: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``docker run`` the way the chart runs a container: read-only root, /tmp writable, no caps."""
    return _docker(
        images, "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", image, *args,
    )  # fmt: skip


@pytest.mark.parametrize("short", sorted(ENTRYPOINTS))
def test_image_runs_non_root_read_only_and_answers_help(
    kontinue_images: BuiltImages, short: str
) -> None:
    image = kontinue_images.images[short].name
    config = _docker(kontinue_images, "image", "inspect", "--format",
                     "{{json .Config.User}} {{json .Config.Entrypoint}}", image)  # fmt: skip
    assert config.returncode == 0, config.stderr
    assert config.stdout.split() == ['"10001:10001"', f'["{ENTRYPOINTS[short]}"]']

    helped = _run(kontinue_images, image, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "usage" in helped.stdout.lower() and ENTRYPOINTS[short] in helped.stdout

    probe = (
        "import os; print(os.getuid(), os.getgid());"
        "open('/tmp/ok', 'w').write('tmp is writable');"
        "open('/opt/kontinue/x', 'w')"
    )
    ran = _docker(
        kontinue_images, "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
        "--entrypoint", "python", image, "-c", probe,
    )  # fmt: skip
    assert ran.stdout.split() == ["10001", "10001"], (ran.stdout, ran.stderr)
    assert "Read-only file system" in ran.stderr, ran.stderr
    size = kontinue_images.images[short].size
    assert size < 600_000_000, f"{image} is {size / 1e6:.0f} MB"


def test_worker_base_image_runs_a_users_workflow_package(
    kontinue_images: BuiltImages, kube_cluster: TestCluster, namespace: str, tmp_path: Path
) -> None:
    """The example image (FROM the worker image, workflows under /app/workflows) serves them."""
    image = kontinue_images.images["example-worker"].name
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kube_cluster.kubeconfig.read_text())
    kubeconfig.chmod(0o644)  # read by the image's user
    name = f"kontinue-example-worker-{namespace[-6:]}"
    started = _docker(
        kontinue_images, "run", "-d", "--name", name, "--network", "host",
        "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
        "-v", f"{kubeconfig}:/kubeconfig:ro", "-e", "KUBECONFIG=/kubeconfig",
        image, f"--namespace={namespace}", "--metrics-port=0",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        expected = {"release-train", "release-build", "release-smoke-test"}

        def registered() -> bool:
            functions = kube_cluster.get(namespace, "functions")["items"]
            return expected <= {f["spec"]["name"] for f in functions}

        wait_for("the image's workflows to be registered", registered, timeout=90)
        logs = (
            _docker(kontinue_images, "logs", name).stdout
            + _docker(kontinue_images, "logs", name).stderr
        )
        assert "release_train.flows" in logs or "serving" in logs, logs
        stopped = _docker(kontinue_images, "stop", "--time", "30", name, timeout=60)
        assert stopped.returncode == 0
        state = _docker(kontinue_images, "inspect", "--format", "{{.State.ExitCode}}", name)
        assert state.stdout.strip() == "0", _docker(kontinue_images, "logs", name).stderr
    finally:
        _docker(kontinue_images, "rm", "-f", name)
