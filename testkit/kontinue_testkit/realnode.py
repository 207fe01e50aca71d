"""pytest plugin: a local control plane with a real node, and the images built here.

Fixtures (tests using them carry the ``real_node`` marker):
    kontinue_images (session) the four images built by ``hack/images/build.sh --local-base``.
    real_node   (session) a control plane of its own whose apiserver a real kubelet reaches
                (``LocalCluster(node_address=...)``), a :class:`~kontinue.devcluster.RealNode`
                joined to it, and the four kontinue images (plus the local Python base image,
                for job steps) built by ``hack/images/build.sh --local-base`` and loaded into
                the node's runtime.

It is a second control plane, apart from ``kube_cluster``: the tests that run without a real
node never see the node address, the kwok taint or the node's iptables rules.

Invariant: where a real node cannot run (not root, packages or binaries missing, no Docker
engine), the fixture fails the test with one line naming what is missing; it never skips.
Everything the node changed on the machine is undone at the end of the session, also after a
failure; the components' logs are kept under ``test-artifacts/real-node-logs`` when a test
failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kontinue.devcluster import LocalCluster, find_testbin
from kontinue.devcluster.realnode import NODE_ADDRESS, RealNode, missing_prerequisites
from kontinue.devcluster.testbin import (
    NODE_REQUIRED,
    TOOLS_REQUIRED,
    TestbinError,
    find_extra_bin,
)
from kontinue_testkit.pytest_plugin import TestCluster

MARKER = "real_node"
_figures: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}: needs root, a Docker engine and a real kubelet node "
        "(hack/real-node/prepare.sh)",
    )


def report(line: str) -> None:
    """A figure printed in the terminal summary (image sizes, start-up times...)."""
    _figures.append(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures the real-node tests measured."""
    for line in _figures:
        terminalreporter.write_line(f"kontinue real node: {line}")


@dataclass
class Image:
    """One image built for the tests."""

    name: str
    seconds: int
    size: int


@dataclass
class RealNodeEnv:
    """What the ``real_node`` fixture gives a test."""

    __test__ = False

    cluster: TestCluster
    node: RealNode
    images: dict[str, Image]
    """By short name: controller, worker, ui, example-worker."""
    python_image: str
    """The local Debian Python base image (has /bin/sh: job steps run it)."""
    tools_bin: Path
    """skaffold and prometheus."""
    repo: Path
    docker: str
    tag: str
    figures: dict[str, float] = field(default_factory=dict)


def _fail(message: str) -> None:
    pytest.fail(f"real-node tests cannot run here: {message}", pytrace=False)


def _script(repo: Path, *args: str, timeout: float = 1800) -> str:
    result = subprocess.run(
        ["bash", *args], cwd=repo, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        _fail(f"{args[0]} failed: {last}")
    return result.stdout


def _docker_client() -> str:
    """The client hack/images/common.sh picks (Debian's, with BuildKit, when buildx is missing)."""
    probe = subprocess.run(
        ["docker", "buildx", "version"], capture_output=True, check=False, timeout=30
    )
    if probe.returncode != 0 and Path("/usr/bin/docker").exists():
        return "/usr/bin/docker"
    return "docker"


@dataclass
class BuiltImages:
    """The images ``hack/images/build.sh --local-base`` built (or found current)."""

    images: dict[str, Image]
    """By short name: controller, worker, ui, example-worker."""
    python_image: str
    """The local Debian Python base image."""
    docker: str
    """The Docker client to use."""
    tag: str


@pytest.fixture(scope="session")
def kontinue_images(request: pytest.FixtureRequest) -> BuiltImages:
    """The four images, built here from the Debian base images (cached by Docker)."""
    repo = Path(str(request.config.rootpath))
    if os.geteuid() != 0:
        _fail("root (the Docker engine and the base images need it)")
    _script(repo, "hack/real-node/system-packages.sh", "--check")
    _script(repo, "hack/images/docker-engine.sh")
    started = time.monotonic()
    timings = Path(tempfile.mkstemp(prefix="kontinue-image-timings-")[1])
    try:
        names = _script(repo, "hack/images/build.sh", "--local-base", "--timings", str(timings))
        images: dict[str, Image] = {}
        for line in timings.read_text().splitlines():
            name, seconds, size = line.split()
            short = name.split(":")[0].rsplit("/", 1)[-1].removeprefix("kontinue-")
            images[short] = Image(name, int(seconds), int(size))
    finally:
        timings.unlink()
    assert len(images) == 4, names
    base = dict(line.split("=", 1) for line in _script(repo, "hack/images/base-images.sh").split())
    report(f"images built (or found current) in {time.monotonic() - started:.1f}s")
    for image in images.values():
        report(f"image {image.name}: {image.size / 1e6:.0f} MB, this build {image.seconds}s")
    tag = images["controller"].name.rsplit(":", 1)[1]
    return BuiltImages(images, base["PYTHON_IMAGE"], _docker_client(), tag)


@pytest.fixture(scope="session")
def real_node(
    request: pytest.FixtureRequest, kontinue_images: BuiltImages
) -> Iterator[RealNodeEnv]:
    """A control plane with a real node, the images built and loaded (see the module doc)."""
    repo = Path(str(request.config.rootpath))
    missing = missing_prerequisites()
    if missing:
        _fail("; ".join(missing))
    try:
        bin_dir = find_testbin(build=False)
        node_bin = find_extra_bin("build-node.sh", NODE_REQUIRED)
        tools_bin = find_extra_bin("build-tools.sh", TOOLS_REQUIRED)
    except TestbinError as exc:
        _fail(f"{exc} (bash hack/real-node/prepare.sh builds everything)")
    images = kontinue_images.images
    docker = kontinue_images.docker
    tag = kontinue_images.tag
    base = {"PYTHON_IMAGE": kontinue_images.python_image}

    workdir = Path(tempfile.mkdtemp(prefix="kontinue-realnode-"))
    cluster = LocalCluster(
        bin_dir, workdir / "cluster", log=lambda _line: None, node_address=NODE_ADDRESS
    )
    node = RealNode(cluster, node_bin, workdir / "node", log=lambda _line: None)
    try:
        t0 = time.monotonic()
        cluster.start()
        crd_dir = repo / "crds"
        cluster.install_crds(sorted(crd_dir.glob("*.yaml")))
        control_plane = time.monotonic() - t0
        t0 = time.monotonic()
        node.start()
        node_seconds = time.monotonic() - t0
        load = node.load_images(
            [i.name for i in images.values()] + [base["PYTHON_IMAGE"]], docker=docker
        )
        report(
            f"control plane {control_plane:.1f}s, node Ready {node_seconds:.1f}s "
            f"({', '.join(f'{k} {v:.1f}s' for k, v in node.timings.items())}), "
            f"images loaded into the node's runtime in {load:.1f}s"
        )
        env = RealNodeEnv(
            cluster=TestCluster(cluster, bin_dir, crd_dir),
            node=node,
            images=images,
            python_image=base["PYTHON_IMAGE"],
            tools_bin=tools_bin,
            repo=repo,
            docker=docker,
            tag=tag,
        )
        yield env
    finally:
        node.stop()
        cluster.stop()
        if "teardown" in node.timings:
            report(f"node teardown {node.timings['teardown']:.1f}s")
        if request.session.testsfailed and cluster.logs_dir.exists():
            target = repo / "test-artifacts" / "real-node-logs"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(cluster.logs_dir, target)
            print(f"\nkontinue: real-node cluster logs kept in {target}")
        shutil.rmtree(workdir, ignore_errors=True)


def tool_env(env: RealNodeEnv, kubeconfig: Path | None = None) -> dict[str, str]:
    """The environment for skaffold and helm: pinned tools first on PATH, the cluster's config."""
    path = [str(env.cluster.bin_dir), str(env.tools_bin)]
    if env.docker != "docker":
        docker_dir = Path(tempfile.mkdtemp(prefix="kontinue-docker-"))
        (docker_dir / "docker").symlink_to(env.docker)
        path.insert(0, str(docker_dir))
    return {
        **os.environ,
        "PATH": os.pathsep.join([*path, os.environ.get("PATH", "")]),
        "KUBECONFIG": str(kubeconfig or env.cluster.kubeconfig),
        "SKAFFOLD_UPDATE_CHECK": "false",
        "SKAFFOLD_INTERACTIVE": "false",
        "SKAFFOLD_COLLECT_METRICS": "false",
    }


def pod_logs(env: RealNodeEnv, namespace: str, tail: int = 40) -> str:
    """The last lines of every container of every pod in ``namespace``, previous runs too."""
    parts = []
    pods = env.cluster.get(namespace, "pods")["items"]
    for pod in pods:
        name = pod["metadata"]["name"]
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            for previous in (False, True):
                if previous and not status.get("restartCount"):
                    continue
                args = ["logs", "-n", namespace, name, "-c", status["name"], f"--tail={tail}"]
                out = env.cluster.kubectl(*args, *(["--previous"] if previous else []), check=False)
                label = "previous" if previous else "current"
                parts.append(f"--- {name}/{status['name']} ({label})\n{out.stdout}{out.stderr}")
    return "\n".join(parts)
