"""Start and stop a real local Kubernetes control plane.

etcd -> kube-apiserver (secure port, RBAC, the default admission chain plus NodeRestriction,
service-account token signing, an audit log of writes to kontinue resources) ->
kube-controller-manager (jobs, garbage collection, namespaces, service accounts, node
lifecycle, deployments, TTL, EndpointSlices), kube-scheduler and kwok -> one fake Node, Ready and
untainted. kwok manages only the nodes annotated as its own, so a real node
(:mod:`kontinue.devcluster.realnode`) can join the same control plane.

Every component listens on free loopback ports and keeps its log under ``<workdir>/logs``.
With ``node_address`` (root only) the apiserver instead listens on, and advertises, that
non-loopback address, which the cluster puts on the loopback device: the ``kubernetes``
Service's endpoint must not be a loopback address, and a real node's pods reach the apiserver
there. The address is removed again when the cluster stops.
``start()`` returns only when the cluster can run a pod; ``stop()`` stops the components in
reverse order and reaps every process, also after a failed start.
"""

from __future__ import annotations

import functools
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kontinue.devcluster import _http, _kubeconfig, _netaddr, _pki, _podlogs, processes

NODE_NAME = "kwok-node-0"
"""The fake node every pod of the local cluster is scheduled to (unless a real node joined)."""

KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
"""The annotation (value ``fake``) that marks the nodes kwok manages."""

KWOK_POD_CIDR = "10.244.0.0/17"
"""Where kwok takes its pods' (fictitious) IPs from; a real node's pods use another range."""

SERVICE_CIDR = "10.96.0.0/16"
"""The Services' cluster IP range."""

CONTROLLERS = (
    "job-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "node-lifecycle-controller",
    "pod-garbage-collector-controller",
    "ttl-after-finished-controller",
    "deployment-controller",
    "replicaset-controller",
    "endpointslice-controller",
)
"""kube-controller-manager controllers the local cluster runs."""

_AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {
            "level": "Metadata",
            "verbs": ["create", "update", "patch", "delete", "deletecollection"],
            "resources": [{"group": "kontinue.cloud"}],
        },
        {"level": "None"},
    ],
}


class ClusterError(RuntimeError):
    """The local control plane could not be started."""


@dataclass
class Timings:
    """Seconds each start-up phase took."""

    phases: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Seconds from the start call to a usable cluster."""
        return sum(self.phases.values())


class LocalCluster:
    """A local control plane rooted in ``workdir``.

    Args:
        bin_dir: directory with etcd, kube-apiserver, kube-controller-manager,
            kube-scheduler and kwok (see :func:`kontinue.devcluster.find_testbin`).
        workdir: directory for PKI, data, kubeconfig and logs (created if missing).
        die_with_parent: let the kernel kill every component when the thread that
            called :meth:`start` dies (set False for a detached cluster).
        log: where progress lines go.
        fsync: let etcd fsync its writes, as in production (the tests skip it for speed;
            the reliability campaign and the benchmarks that compare engines keep it).
        node_address: a non-loopback IPv4 address for the apiserver to listen on and
            advertise, for a real node to join (:class:`kontinue.devcluster.RealNode`); needs
            root, since it is added to the loopback device.
    """

    def __init__(
        self,
        bin_dir: Path,
        workdir: Path,
        *,
        die_with_parent: bool = True,
        log: Callable[[str], None] = print,
        fsync: bool = False,
        node_address: str | None = None,
    ) -> None:
        self.fsync = fsync
        self.bin_dir = bin_dir
        self.node_address = node_address
        self.workdir = workdir.resolve()
        self.die_with_parent = die_with_parent
        self.log = log
        self.components: list[processes.Component] = []
        self.ports: dict[str, int] = {}
        self._pod_logs_stop = threading.Event()
        self.timings = Timings()
        self._api: _http.ApiServer | None = None

    # -- paths --------------------------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (client certificate in group ``system:masters``)."""
        return self.workdir / "kubeconfig"

    @property
    def logs_dir(self) -> Path:
        """One ``<component>.log`` per component, plus ``audit.log``."""
        return self.workdir / "logs"

    @property
    def server(self) -> str:
        """The kube-apiserver URL."""
        return f"https://{self.node_address or '127.0.0.1'}:{self.ports['apiserver']}"

    @property
    def api(self) -> _http.ApiServer:
        """An admin client for the running apiserver."""
        if self._api is None:
            raise ClusterError("the cluster is not started")
        return self._api

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> None:
        """Bring up every component and wait until a pod could run; stop all on failure."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 10.0) -> None:
        """Stop every component: SIGTERM to all at once, SIGKILL to what outlives ``grace``.

        All at once, so an interrupted test run or ``kontinue dev`` ends within one grace period
        (one at a time, five components could take five).
        """
        self._pod_logs_stop.set()
        components = list(reversed(self.components))
        for component in components:
            component.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for component in components:
            component.stop(grace=max(0.0, deadline - time.monotonic()))
        self.components.clear()
        _netaddr.release_loopback_address(self.workdir)

    # -- internals ----------------------------------------------------------------------------

    def _phase(self, name: str, started: float) -> None:
        self.timings.phases[name] = time.monotonic() - started

    def _component(self, name: str, *args: str) -> processes.Component:
        component = processes.Component(
            name,
            [str(self.bin_dir / name), *args],
            self.logs_dir / f"{name}.log",
            die_with_parent=self.die_with_parent,
        )
        component.start()
        self.components.append(component)
        return component

    def _wait(
        self, what: str, ready: Callable[[], bool], timeout: float, watch: list[processes.Component]
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for component in watch:
                if not component.running():
                    raise ClusterError(
                        f"{component.name} exited while waiting for {what}; last log lines "
                        f"({component.log_path}):\n{component.log_tail()}"
                    )
            if ready():
                return
            time.sleep(0.1)
        tails = "\n".join(f"--- {c.name} ({c.log_path})\n{c.log_tail(15)}" for c in watch)
        raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")

    def _start(self, timeout: float) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        for name in ("etcd", "etcd-peer", "apiserver", "kcm", "scheduler", "kwok"):
            self.ports[name] = processes.free_port()
        t0 = time.monotonic()
        extra_ips: tuple[str, ...] = ()
        if self.node_address:
            _netaddr.claim_loopback_address(self.workdir, self.node_address)
            extra_ips = (self.node_address,)
        pki = _pki.create_pki(self.workdir / "pki", extra_server_ips=extra_ips)
        self.kubeconfig.write_text(
            _kubeconfig.render_kubeconfig(
                server=self.server,
                ca_cert=pki.ca_cert,
                client_cert=pki.admin_cert,
                client_key=pki.admin_key,
            )
        )
        self.kubeconfig.chmod(0o600)
        audit_policy = self.workdir / "audit-policy.json"
        audit_policy.write_text(json.dumps(_AUDIT_POLICY))
        kwok_config = self.workdir / "kwok.yaml"
        kwok_config.write_text(
            resources.files("kontinue.devcluster").joinpath("kwok.yaml").read_text()
        )
        self._phase("pki", t0)

        t0 = time.monotonic()
        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}"
        etcd = self._component(
            "etcd",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{self.ports['etcd-peer']}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{self.ports['etcd-peer']}",
            f"--initial-cluster=default=http://127.0.0.1:{self.ports['etcd-peer']}",
            f"--unsafe-no-fsync={'false' if self.fsync else 'true'}",
            "--log-level=warn",
            "--listen-metrics-urls=",
        )
        self._wait("etcd /health", lambda: _http.probe(etcd_url + "/health"), 30, [etcd])
        self._phase("etcd", t0)

        t0 = time.monotonic()
        address = self.node_address or "127.0.0.1"
        node_flags = []
        if self.node_address:  # a real kubelet's serving certificate comes from the cluster CA
            node_flags.append(f"--kubelet-certificate-authority={pki.ca_cert}")
        api = self._component(
            "kube-apiserver",
            f"--etcd-servers={etcd_url}",
            f"--bind-address={address}",
            f"--advertise-address={address}",
            f"--secure-port={self.ports['apiserver']}",
            f"--cert-dir={pki.directory}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--service-account-issuer={self.server}",
            f"--service-account-key-file={pki.sa_public_key}",
            f"--service-account-signing-key-file={pki.sa_private_key}",
            "--authorization-mode=Node,RBAC",
            # OwnerReferencesPermissionEnforcement as OpenShift has it: setting
            # blockOwnerDeletion needs update on the owner's finalizers (the chart's RBAC must
            # say so); ValidatingAdmissionPolicy is in the default chain (the chart's policies)
            "--enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement",
            "--allow-privileged=true",
            f"--audit-policy-file={audit_policy}",
            f"--audit-log-path={self.logs_dir / 'audit.log'}",
            "--audit-log-format=json",
            "--audit-log-maxbackup=1",
            "--audit-log-maxsize=200",
            "--profiling=false",
            # kwok's node answers the kubelet API (logs) on 127.0.0.1, not on its host name
            "--kubelet-preferred-address-types=InternalIP",
            # what a real kubelet authenticates the apiserver by (kwok ignores it)
            f"--kubelet-client-certificate={pki.kubelet_client_cert}",
            f"--kubelet-client-key={pki.kubelet_client_key}",
            *node_flags,
        )
        self._api = _http.ApiServer(self.server, pki.ca_cert, pki.admin_cert, pki.admin_key)
        self._wait("kube-apiserver /readyz", self._apiserver_ready, 60, [etcd, api])
        logs_crd = _podlogs.crd_path(self.bin_dir)
        if not logs_crd.exists():
            raise ClusterError(f"{logs_crd} is missing: rebuild with hack/testbin/build.sh")
        self.install_crds([logs_crd])
        self._phase("kube-apiserver", t0)

        t0 = time.monotonic()
        kubeconfig = str(self.kubeconfig)
        kcm = self._component(
            "kube-controller-manager",
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.ports['kcm']}",
            f"--controllers={','.join(CONTROLLERS)}",
            f"--service-account-private-key-file={pki.sa_private_key}",
            f"--root-ca-file={pki.ca_cert}",
            "--profiling=false",
        )
        scheduler = self._component(
            "kube-scheduler",
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.ports['scheduler']}",
            "--profiling=false",
        )
        kwok = self._component(
            "kwok",
            f"--kubeconfig={kubeconfig}",
            f"--config={kwok_config}",
            # only its own node: a real node may join this control plane
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
            f"--cidr={KWOK_POD_CIDR}",
            "--node-ip=127.0.0.1",
            f"--node-name={NODE_NAME}",
            f"--node-port={self.ports['kwok']}",
            f"--server-address=127.0.0.1:{self.ports['kwok']}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            "--enable-crds=Logs",
            "--node-lease-duration-seconds=40",
        )
        everything = [etcd, api, kcm, scheduler, kwok]
        health = {
            "kube-controller-manager": f"https://127.0.0.1:{self.ports['kcm']}/healthz",
            "kube-scheduler": f"https://127.0.0.1:{self.ports['scheduler']}/healthz",
            "kwok": f"https://127.0.0.1:{self.ports['kwok']}/healthz",
        }
        for name, url in health.items():
            self._wait(f"{name} /healthz", functools.partial(_http.probe, url), 60, everything)
        self._phase("controllers", t0)

        t0 = time.monotonic()
        self._create_node()
        self._wait(f"node {NODE_NAME} Ready and schedulable", self._node_ready, 60, everything)
        self._wait("the default ServiceAccount", self._default_service_account, 60, everything)
        self._phase("node", t0)
        self._pod_logs_stop.clear()
        _podlogs.PodLogs(self.api, self.workdir / "podlogs", self._pod_logs_stop).start()
        (self.workdir / "env").write_text(
            f"KUBECONFIG={self.kubeconfig}\nKONTINUE_CLUSTER_SERVER={self.server}\n"
            f"KONTINUE_NODE_ADDRESS={self.node_address or ''}\n"
        )
        self.log(f"local control plane ready in {self.timings.total:.1f}s at {self.server}")

    def _apiserver_ready(self) -> bool:
        try:
            return self.api.request("GET", "/readyz", timeout=2).status == 200
        except OSError:
            return False

    def _create_node(self) -> None:
        node: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
                "annotations": {KWOK_NODE_ANNOTATION: "fake"},
            },
        }
        response = self.api.request("POST", "/api/v1/nodes", node)
        if response.status not in (201, 409):
            raise ClusterError(f"creating the node failed: {response.status} {response.body!r}")

    def _node_ready(self) -> bool:
        response = self.api.request("GET", f"/api/v1/nodes/{NODE_NAME}")
        if response.status != 200:
            return False
        node = response.json()
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in node.get("status", {}).get("conditions", [])
        )
        taints = node.get("spec", {}).get("taints") or []
        return ready and not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints)

    def _default_service_account(self) -> bool:
        path = "/api/v1/namespaces/default/serviceaccounts/default"
        return self.api.request("GET", path).status == 200

    def install_crds(self, paths: list[Path], timeout: float = 60.0) -> list[str]:
        """Server-side apply CustomResourceDefinition files and wait until each is Established.

        Returns the names of the CRDs applied.
        """
        names: list[str] = []
        for path in paths:
            for document in yaml.safe_load_all(path.read_text()):
                if not document:
                    continue
                name = document["metadata"]["name"]
                response = self.api.request(
                    "PATCH",
                    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                    f"{name}?fieldManager=kontinue-devcluster&force=true",
                    document,
                    content_type="application/apply-patch+yaml",
                )
                if response.status not in (200, 201):
                    raise ClusterError(
                        f"applying {path} failed: {response.status} "
                        f"{response.body.decode(errors='replace')}"
                    )
                names.append(name)
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                url = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
                crd = self.api.request("GET", url).json()
                conditions = (crd.get("status") or {}).get("conditions") or []
                if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                    pending.discard(name)
            time.sleep(0.1)
        if pending:
            raise ClusterError(f"CRDs not established within {timeout:.0f}s: {sorted(pending)}")
        return names

    @classmethod
    def attach(cls, workdir: Path) -> LocalCluster:
        """A handle on a cluster started in ``workdir`` by another process (no components)."""
        cluster = cls(Path(), workdir)
        server = ""
        for line in (cluster.workdir / "env").read_text().splitlines():
            if line.startswith("KONTINUE_CLUSTER_SERVER="):
                server = line.split("=", 1)[1]
            if line.startswith("KONTINUE_NODE_ADDRESS="):
                cluster.node_address = line.split("=", 1)[1] or None
        cluster.ports["apiserver"] = int(server.rsplit(":", 1)[1])
        pki = _pki.Pki(cluster.workdir / "pki")
        cluster._api = _http.ApiServer(server, pki.ca_cert, pki.admin_cert, pki.admin_key)
        return cluster

    # -- faults (the reliability campaign) ---------------------------------------------------

    def component(self, name: str) -> processes.Component:
        """The running component named ``name`` (``etcd``, ``kube-apiserver``, ...)."""
        for component in self.components:
            if component.name == name:
                return component
        raise ClusterError(f"no component {name}")

    def pause(self, name: str) -> None:
        """Freeze a component (SIGSTOP): its connections stay open and nothing answers."""
        self.component(name).signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        """Let a paused component go on (SIGCONT)."""
        self.component(name).signal(signal.SIGCONT)

    def restart(self, name: str, *, kill: bool = True, timeout: float = 60.0) -> None:
        """Stop a component (SIGKILL, or SIGTERM with ``kill=False``) and start it again.

        etcd starts again from its data directory. Returns once the component is healthy.
        """
        component = self.component(name)
        component.signal(signal.SIGCONT)
        if kill:
            component.kill()
        else:
            component.stop()
        component.start()
        if name == "etcd":
            url = f"http://127.0.0.1:{self.ports['etcd']}/health"
            self._wait("etcd /health", functools.partial(_http.probe, url), timeout, [component])
        elif name == "kube-apiserver":
            self._wait("kube-apiserver /readyz", self._apiserver_ready, timeout, [component])
