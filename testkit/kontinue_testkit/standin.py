"""A kubelet stand-in: run a rendered Deployment's container as a local process.

The local cluster's pods are fakes (kwok marks them Running; nothing runs in them). To test
what the chart renders, :class:`ContainerProcess` takes one Deployment from a release's
manifests and starts what its container would run, the way a kubelet would with our images:

- the command and args exactly as rendered, ``$(VAR)`` references expanded as the kubelet
  expands them; the first word (the image's ENTRYPOINT, a console script of the image's
  virtual environment) is found in this environment's ``bin`` directory;
- the environment: the image's ``ENV`` (read from its Dockerfile, less ``PATH``), then the
  container's ``env`` (values, the downward API's ``fieldRef``, ``secretKeyRef`` and
  ``configMapKeyRef`` read from the cluster);
- the credentials: a kubeconfig holding a token of the pod's ServiceAccount (TokenRequest
  API) with the cluster's server and CA: what the in-cluster config gives a pod, never the
  admin's rights;
- the probes: :meth:`ContainerProcess.wait_ready` polls the readiness probe's ``httpGet``
  (named ports resolved from the container's ports) on 127.0.0.1.

A wrong flag, port, environment variable or RBAC rule in the chart therefore fails the test
that runs these processes.
"""

from __future__ import annotations

import base64
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from kontinue_testkit.images import image_config
from kontinue_testkit.pytest_plugin import TestCluster, WorkerProcess, spawn_with_env, wait_for

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` as the kubelet does: defined names only, ``$$`` is a literal ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR.sub(replace, text)


def deployments(manifests: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Deployments among ``manifests``, by ``app.kubernetes.io/component`` label."""
    found: dict[str, dict[str, Any]] = {}
    for doc in manifests:
        if doc and doc.get("kind") == "Deployment":
            component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
            found[component] = dict(doc)
    return found


def image_env(dockerfile: Path) -> dict[str, str]:
    """The ``ENV`` of the image a Dockerfile builds, except ``PATH``."""
    return {k: v for k, v in image_config(dockerfile).env.items() if k != "PATH"}


def service_account_kubeconfig(
    cluster: TestCluster, namespace: str, service_account: str, target: Path
) -> Path:
    """A kubeconfig with a fresh token of ``service_account``, the admin's server and CA."""
    token = cluster.kubectl(
        "create", "token", service_account, "-n", namespace, "--duration=2h"
    ).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server_entry = admin["clusters"][0]["cluster"]
    ca = server_entry.get("certificate-authority-data")
    if ca is None:
        ca_path = Path(server_entry["certificate-authority"])
        if not ca_path.is_absolute():
            ca_path = cluster.kubeconfig.parent / ca_path
        ca = base64.b64encode(ca_path.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "cluster",
                "cluster": {"server": server_entry["server"], "certificate-authority-data": ca},
            }
        ],
        "users": [{"name": service_account, "user": {"token": token}}],
        "contexts": [
            {
                "name": "pod",
                "context": {"cluster": "cluster", "user": service_account, "namespace": namespace},
            }
        ],
        "current-context": "pod",
    }
    target.write_text(yaml.safe_dump(config))
    target.chmod(0o600)
    return target


class ContainerProcess:
    """The first container of one rendered Deployment, run locally."""

    def __init__(
        self,
        cluster: TestCluster,
        deployment: Mapping[str, Any],
        *,
        dockerfile: Path,
        workdir: Path,
        pod_name: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.deployment = deployment
        self.namespace: str = deployment["metadata"]["namespace"]
        self.pod_spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
        self.container: dict[str, Any] = self.pod_spec["containers"][0]
        self.service_account: str = self.pod_spec.get("serviceAccountName") or "default"
        self.pod_name = pod_name or f"{deployment['metadata']['name']}-standin"
        self.dockerfile = dockerfile
        self.workdir = workdir
        self.process: WorkerProcess | None = None

    # -- what the kubelet would compute -----------------------------------------------------

    def _field(self, path: str) -> str:
        values = {
            "metadata.name": self.pod_name,
            "metadata.namespace": self.namespace,
            "spec.serviceAccountName": self.service_account,
            "spec.nodeName": "kwok-node-0",
            "status.podIP": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
        }
        if path not in values:
            raise AssertionError(f"the stand-in has no value for fieldRef {path}")
        return values[path]

    def _key_ref(self, kind: str, ref: Mapping[str, Any]) -> str | None:
        found = self.cluster.kubectl(
            "get", kind, ref["name"], "-n", self.namespace, "-o", "json", check=False
        )
        if found.returncode != 0:
            if ref.get("optional"):
                return None
            raise AssertionError(f"{kind} {ref['name']} for the container's env: {found.stderr}")
        data = (yaml.safe_load(found.stdout) or {}).get("data") or {}
        if ref["key"] not in data:
            if ref.get("optional"):
                return None
            raise AssertionError(f"{kind} {ref['name']} has no key {ref['key']}")
        value = str(data[ref["key"]])
        return base64.b64decode(value).decode() if kind == "secret" else value

    def environment(self) -> dict[str, str]:
        """The image's ENV, then the container's env in order (later ones may use earlier)."""
        env = image_env(self.dockerfile)
        for item in self.container.get("env") or []:
            source = item.get("valueFrom")
            if source is None:
                env[item["name"]] = expand(str(item.get("value", "")), env)
            elif "fieldRef" in source:
                env[item["name"]] = self._field(source["fieldRef"]["fieldPath"])
            elif "secretKeyRef" in source or "configMapKeyRef" in source:
                kind = "secret" if "secretKeyRef" in source else "configmap"
                value = self._key_ref(kind, source.get("secretKeyRef") or source["configMapKeyRef"])
                if value is not None:
                    env[item["name"]] = value
            else:
                raise AssertionError(f"the stand-in cannot resolve env {item}")
        return env

    def command(self, env: Mapping[str, str]) -> list[str]:
        """The container's command and args, expanded; the entrypoint found in this venv."""
        words = [expand(w, env) for w in [*self.container["command"], *self.container["args"]]]
        executable = Path(sys.executable).parent / words[0]
        if not executable.exists():
            raise AssertionError(f"{words[0]} (the container's command) is not installed")
        return [str(executable), *words[1:]]

    def port(self, name_or_number: str | int) -> int:
        """A container port by name (or a number as is)."""
        if isinstance(name_or_number, int) or str(name_or_number).isdigit():
            return int(name_or_number)
        for port in self.container.get("ports") or []:
            if port.get("name") == name_or_number:
                return int(port["containerPort"])
        raise AssertionError(f"the container has no port named {name_or_number}")

    # -- running ----------------------------------------------------------------------------

    def start(self) -> WorkerProcess:
        """Start the process with its ServiceAccount's kubeconfig."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        kubeconfig = service_account_kubeconfig(
            self.cluster,
            self.namespace,
            self.service_account,
            self.workdir / f"{self.pod_name}.kubeconfig",
        )
        env = self.environment()
        home = self.workdir / f"{self.pod_name}-home"
        home.mkdir(exist_ok=True)
        process_env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.defpath}",
            "HOME": str(home),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            **env,
            "KUBECONFIG": str(kubeconfig),
        }
        self.process = spawn_with_env(
            self.command(env), process_env, self.pod_name, self.workdir / f"{self.pod_name}.log"
        )
        return self.process

    def probe(self, kind: str = "readinessProbe") -> bool:
        """Whether the container's ``httpGet`` probe answers 2xx now."""
        get = self.container[kind]["httpGet"]
        url = f"http://127.0.0.1:{self.port(get['port'])}{get.get('path', '/')}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URL
                return 200 <= int(response.status) < 300
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait for the liveness and readiness probes (fails early if the process exits)."""
        assert self.process is not None, "start() first"
        process = self.process

        def ready() -> bool:
            if process.process.poll() is not None:
                raise AssertionError(f"{self.pod_name} exited:\n{process.log()[-4000:]}")
            return self.probe("livenessProbe") and self.probe("readinessProbe")

        wait_for(f"{self.pod_name} to be ready", ready, timeout=timeout)

    def stop(self) -> None:
        """SIGTERM, as the kubelet does, and wait."""
        if self.process is not None:
            self.process.stop()

    def log(self) -> str:
        """What the process printed."""
        return self.process.log() if self.process is not None else ""
