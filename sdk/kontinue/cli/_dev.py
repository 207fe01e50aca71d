"""``kontinue dev``: everything running locally, until Ctrl-C.

Brings up the local control plane (building its binaries on first use), installs the CRDs,
starts the controller, a worker serving the project's examples and the UI, prints how to reach
them, and stops everything in reverse order on Ctrl-C (or SIGTERM). With ``--kubeconfig`` or
``--context`` it uses that cluster instead of starting one.
"""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from kontinue.cli._context import connection_options, fail, setting
from kontinue.client import kubeapi


def _service(
    module: str, args: list[str], kubeconfig: str, log: Path, context: str | None
) -> subprocess.Popen[bytes]:
    if importlib.util.find_spec(module) is None:
        fail(f"kontinue dev needs {module} installed (make install)")
    command = [sys.executable, "-m", module, *args, "--kubeconfig", kubeconfig]
    if context:
        command += ["--context", context]
    log.parent.mkdir(parents=True, exist_ok=True)
    from kontinue.devcluster.processes import kill_with_parent

    with log.open("ab") as sink:
        return subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=kill_with_parent,
        )  # fmt: skip


def _apply_crds(kubeconfig: str, context: str | None, crds: Path) -> None:
    import yaml

    kube = kubeapi.Kube(kubeconfig, context)
    resource = kubeapi.Resource("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions")
    for path in sorted(crds.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                kube.apply(
                    resource, None, document["metadata"]["name"], document,
                    field_manager="kontinue-dev",
                )  # fmt: skip


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"the UI exited; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    fail(f"the UI did not become ready within {timeout:.0f}s; see {log}")


@click.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=Path(".local/dev"),
    show_default=True,
    help="State and logs of the local control plane.",
)
@click.option(
    "--crds",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=Path("crds"),
    show_default=True,
    help="The CRD files to install.",
)
@click.option(
    "--examples",
    type=click.Path(path_type=Path),
    default=Path("examples"),
    show_default=True,
    help="Path the worker imports workflow modules from.",
)
@click.option(
    "--module",
    "modules",
    multiple=True,
    default=("kontinue_examples.all",),
    show_default=True,
    help="Workflow module the worker serves (repeatable).",
)
@click.option(
    "--ui-port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port of the UI on 127.0.0.1 (0, or a port in use: any free one).",
)
@connection_options
def dev(workdir: Path, crds: Path, examples: Path, modules: tuple[str, ...], ui_port: int) -> None:
    """Run kontinue locally: control plane, CRDs, controller, worker and UI until Ctrl-C."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    kubeconfig, context = setting("kubeconfig"), setting("context")
    cluster = None
    processes: list[subprocess.Popen[bytes]] = []
    logs = workdir.resolve() / "logs"
    try:
        if kubeconfig is None and context is None:
            from kontinue.devcluster import ClusterError, LocalCluster, find_testbin
            from kontinue.devcluster.testbin import TestbinError

            try:
                bin_dir = find_testbin()
            except TestbinError:
                click.echo("building the control-plane binaries (first use takes minutes)...")
                try:
                    bin_dir = find_testbin(build=True)
                except TestbinError as exc:
                    fail(str(exc))
            cluster = LocalCluster(bin_dir, workdir.resolve() / "cluster")
            click.echo("starting the local control plane...")
            try:
                cluster.start()
                cluster.install_crds(sorted(crds.glob("*.yaml")))
            except ClusterError as exc:
                fail(str(exc))
            kubeconfig = str(cluster.kubeconfig)
        else:
            _apply_crds(kubeconfig or "", context, crds)
        config = kubeconfig or ""
        controller = ["--all-namespaces", "--lease-namespace", "default"]
        processes.append(
            _service("kontinue_controller", controller, config, logs / "controller.log", context)
        )
        worker = ["--path", str(examples.resolve()), "--name", "dev-worker"]
        for module in modules:
            worker += ["--module", module]
        processes.append(_service("kontinue_worker", worker, config, logs / "worker.log", context))
        if ui_port == 0 or not _port_free(ui_port):
            from kontinue.devcluster.processes import free_port

            ui_port = free_port()
        # only this machine reaches it: actions with the developer's own kubeconfig rights
        ui_args = [
            "--all-namespaces",
            "--port",
            str(ui_port),
            "--workers",
            "1",
            "--anonymous-actions",
        ]
        processes.append(_service("kontinue_ui", ui_args, config, logs / "ui.log", context))
        ui = f"http://127.0.0.1:{ui_port}/"
        _wait_ready(ui + "readyz", processes[-1], logs / "ui.log", 60)
        click.echo(
            f"kontinue is running.\n"
            f"  kubeconfig: export KUBECONFIG={kubeconfig}\n"
            f"  UI:         {ui}\n"
            f"  logs:       {logs}\n"
            f'  try:        kontinue execute hello-world \'{{"name": "you"}}\' --wait\n'
            f"Ctrl-C stops everything."
        )
        while not stop.wait(0.5):
            for name, process in zip(("controller", "worker", "ui"), processes, strict=False):
                if process.poll() is not None:
                    fail(f"the {name} exited; see {logs / (name + '.log')}")
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if cluster is not None:
            cluster.stop()
        click.echo("stopped.")
