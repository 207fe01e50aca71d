"""A real node for the local control plane: a kubelet that runs containers.

Next to kwok's fake node (which keeps its own pods), :class:`RealNode` starts:

- its own containerd (Debian's ``/usr/bin/containerd``, with its own root, state and socket,
  not the Docker engine's) with the CRI plugin, runc, and the CNI plugins of Debian's
  ``containernetworking-plugins``; the pause image is built here from the static ``pause``
  program of ``hack/testbin/build-node.sh`` and imported, nothing is pulled;
- a kubelet registered as ``system:node:<name>`` with a client certificate from the cluster CA,
  serving its API with a certificate of the same CA, authenticating callers by client
  certificate or token and authorizing them through the apiserver (webhook), never anonymous;
- kube-proxy (iptables mode), so that the ``kubernetes`` Service and the chart's Services work
  from pods and from this machine.

Everything stays on this machine: pods live on a bridge of their own (:data:`BRIDGE`) with no
route out (traffic from the bridge to any other interface is dropped and nothing is
masqueraded); the Service and pod ranges are routed onto that bridge, so a packet for a
Service or pod address that nothing answers for ends there instead of following the default
route; the
apiserver listens on an address on the loopback device (``LocalCluster(node_address=...)``).

Every change to the machine is written to an undo log in the node's work directory before or
as it is made, and :meth:`RealNode.stop` (or :func:`teardown` from another process, e.g. after
the launcher was killed) undoes all of it in reverse: pods, processes (including containerd's
shims), mounts, iptables rules and chains, routes, the bridge, the kubelet's cgroups and log
links, the kernel settings the kubelet or this module changed, and the state directories.

The kwok node gets a ``NoSchedule`` taint while a real node is up, so that pods that do not
say otherwise run for real.

Needs root, iptables, bridge netfilter, overlayfs and writable cgroups (v1 or v2).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import json
import os
import platform
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kontinue.devcluster import _http, _kubeconfig, _pki, processes
from kontinue.devcluster._cluster import (
    KWOK_NODE_ANNOTATION,
    NODE_NAME,
    SERVICE_CIDR,
    ClusterError,
    LocalCluster,
)

REAL_NODE_NAME = "kontinue-node"
"""The real node's name."""

REAL_NODE_LABEL = "kontinue.cloud/real-node"
"""Label (value ``true``) of the real node."""

NODE_ADDRESS = "10.244.255.254"
"""The address the apiserver and the kubelet listen on (on ``lo``), the node's InternalIP."""

POD_SUBNET = "10.244.128.0/24"
"""The real node's pod addresses (on :data:`BRIDGE`)."""

CONFINED = (SERVICE_CIDR, "10.244.0.0/16")
"""Cluster ranges routed onto :data:`BRIDGE` (pod subnet and node address inside), so that a
packet for an address nothing answers for ends there instead of following the default route.
(A blackhole route would also refuse this machine's own connections to Service IPs, which
kube-proxy rewrites only after the route lookup.)"""

BRIDGE = "kontinue0"
"""The pods' bridge."""

KWOK_TAINT = {"key": KWOK_NODE_ANNOTATION, "value": "fake", "effect": "NoSchedule"}
"""The taint that keeps pods off kwok's node while a real node is up."""

_FORWARD_CHAIN = "KONTINUE-NODE-FORWARD"
_NETWORK_NAME = "kontinue-node"
# kernel settings the kubelet sets (setupKernelTunables) or this module sets
_SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.bridge.bridge-nf-call-iptables",
)
_HOST_COMMANDS = {
    "containerd": "/usr/bin/containerd",
    "ctr": "/usr/bin/ctr",
    "runc": "/usr/sbin/runc",
    "CNI bridge plugin": "/usr/lib/cni/bridge",
    "CNI host-local plugin": "/usr/lib/cni/host-local",
    "CNI loopback plugin": "/usr/lib/cni/loopback",
    "CNI portmap plugin": "/usr/lib/cni/portmap",
    "iptables": "/usr/sbin/iptables",
    "iptables-save": "/usr/sbin/iptables-save",
    "conntrack": "/usr/sbin/conntrack",
    "ip": "/usr/sbin/ip",
}
_CONTAINER_LOG_LINKS = Path("/var/log/containers")
_CNI_CACHE = Path("/var/lib/cni/results")


class NodeError(ClusterError):
    """The real node could not be started (or a prerequisite is missing)."""


def _run(*argv: str, input: bytes | None = None, timeout: float = 120, check: bool = True) -> str:
    try:
        result = subprocess.run(
            list(argv), input=input, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise NodeError(f"{argv[0]} is not installed") from exc
    if check and result.returncode != 0:
        raise NodeError(
            f"{' '.join(argv)} failed ({result.returncode}): "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout.decode(errors="replace")


def missing_prerequisites(node_bin: Path | None = None) -> list[str]:
    """What this machine lacks for a real node (empty when nothing is missing)."""
    missing: list[str] = []
    if os.geteuid() != 0:
        missing.append("root (the kubelet, containerd and kube-proxy need it)")
    for what, path in _HOST_COMMANDS.items():
        if not Path(path).exists():
            missing.append(f"{what} ({path}; bash hack/real-node/system-packages.sh)")
    if node_bin is not None:
        for name in ("kubelet", "kube-proxy", "pause"):
            if not (node_bin / name).exists():
                missing.append(f"{node_bin / name} (bash hack/testbin/build-node.sh)")
    if not Path("/sys/fs/cgroup").is_dir():
        missing.append("a cgroup file system at /sys/fs/cgroup")
    return missing


def pause_image_archive(pause_binary: Path, reference: str) -> bytes:
    """An OCI image archive (``ctr images import`` input) with ``pause`` as its entrypoint."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("pause")
        data = pause_binary.read_bytes()
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        tar.addfile(info, io.BytesIO(data))
    blobs: dict[str, bytes] = {}

    def blob(content: bytes, media_type: str) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        blobs[digest] = content
        return {"mediaType": media_type, "digest": digest, "size": len(content)}

    layer_descriptor = blob(layer.getvalue(), "application/vnd.oci.image.layer.v1.tar")
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [layer_descriptor["digest"]]},
    }
    manifest_type = "application/vnd.oci.image.manifest.v1+json"
    manifest = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
        "layers": [layer_descriptor],
    }
    manifest_descriptor = blob(json.dumps(manifest).encode(), manifest_type)
    manifest_descriptor["annotations"] = {
        "io.containerd.image.name": reference,
        "org.opencontainers.image.ref.name": reference.rsplit(":", 1)[-1],
    }
    index = {"schemaVersion": 2, "manifests": [manifest_descriptor]}
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        files = {
            "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
            "index.json": json.dumps(index).encode(),
            **{f"blobs/sha256/{d.split(':', 1)[1]}": c for d, c in blobs.items()},
        }
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(content), 0
            tar.addfile(info, io.BytesIO(content))
    return archive.getvalue()


# -- the undo log ------------------------------------------------------------------------------


class UndoLog:
    """Changes made to the machine, one JSON object per line, undone in reverse order."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, kind: str, **details: Any) -> None:
        """Append one change (written before :meth:`undo` could need it)."""
        with self.path.open("a") as log:
            log.write(json.dumps({"kind": kind, **details}) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        """The recorded changes, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    points = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(set(points), key=len, reverse=True)


def _pids_with(needle: str) -> list[int]:
    """Processes whose command line contains ``needle`` (this process excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _iptables_chains() -> dict[str, set[str]]:
    chains: dict[str, set[str]] = {}
    table = ""
    for line in _run("iptables-save").splitlines():
        if line.startswith("*"):
            table = line[1:]
            chains.setdefault(table, set())
        elif line.startswith(":"):
            chains[table].add(line[1:].split()[0])
    return chains


def _delete_chain(table: str, chain: str) -> None:
    """Remove every jump to ``chain`` in ``table``, then flush and delete it."""
    for line in _run("iptables-save", "-t", table).splitlines():
        words = line.split()
        if line.startswith("-A ") and "-j" in words and words[words.index("-j") + 1] == chain:
            _run("iptables", "-t", table, "-D", *words[1:], check=False)
    _run("iptables", "-t", table, "-F", chain, check=False)
    _run("iptables", "-t", table, "-X", chain, check=False)


def _remove_cgroup(relative: str) -> None:
    """Remove a cgroup (children first) from every hierarchy that has it."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        top = hierarchy / relative
        if not top.is_dir():
            continue
        for directory, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def _undo(entry: dict[str, Any], log: Callable[[str], None]) -> None:
    kind = entry["kind"]
    if kind == "sysctl":
        path = _sysctl_path(entry["key"])
        if path.exists() and path.read_text().strip() != entry["value"]:
            path.write_text(entry["value"])
    elif kind == "route":
        _run("ip", "route", "del", *entry["spec"], check=False)
    elif kind == "link":
        _run("ip", "link", "del", entry["name"], check=False)
    elif kind == "chain":
        _delete_chain(entry["table"], entry["chain"])
    elif kind == "iptables-chains":  # chains kube-proxy or the kubelet created (KUBE-*)
        before = {t: set(c) for t, c in entry["before"].items()}
        for table, chains in _iptables_chains().items():
            for chain in sorted(chains - before.get(table, set())):
                if chain.startswith("KUBE-"):
                    _delete_chain(table, chain)
    elif kind == "kube-proxy-cleanup":
        _run(entry["binary"], "--cleanup", check=False, timeout=60)
    elif kind == "processes":  # our components and containerd's shims, by what they run with
        _kill(_pids_with(entry["marker"]))
    elif kind == "mounts":
        for point in _mounts_under(Path(entry["root"])):
            _run("umount", "-l", point, check=False)
    elif kind == "log-links":
        links = _CONTAINER_LOG_LINKS
        if links.is_dir():
            for link in links.iterdir():
                if link.is_symlink() and os.readlink(link).startswith(entry["target"]):
                    link.unlink()
            if entry["created"] and not any(links.iterdir()):
                links.rmdir()
    elif kind == "cni-cache":
        if _CNI_CACHE.is_dir():
            for result in _CNI_CACHE.glob(f"{_NETWORK_NAME}-*"):
                result.unlink()
    elif kind == "cgroup":
        _remove_cgroup(entry["path"])
    else:
        log(f"unknown undo entry {entry}")


def teardown(workdir: Path, log: Callable[[str], None] = print) -> None:
    """Undo every change the node in ``workdir`` recorded, in reverse, and remove ``workdir``."""
    entries = UndoLog(workdir / "undo.jsonl").entries()
    # processes first (containerd's shims outlive containerd), then the rest newest first
    ordered = [e for e in entries if e["kind"] == "processes"]
    ordered += [e for e in reversed(entries) if e["kind"] != "processes"]
    for entry in ordered:
        try:
            _undo(entry, log)
        except (NodeError, OSError) as exc:
            log(f"undoing {entry['kind']} failed: {exc}")
    for point in _mounts_under(workdir):
        _run("umount", "-l", point, check=False)
    shutil.rmtree(workdir, ignore_errors=True)


# -- the node ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paths:
    root: Path

    def __getattr__(self, name: str) -> Path:
        return self.root / name.replace("_", "-")


class RealNode:
    """A kubelet, kube-proxy and containerd joined to a running :class:`LocalCluster`.

    Args:
        cluster: a started cluster (or :meth:`LocalCluster.attach`) with ``node_address`` set.
        node_bin: kubelet, kube-proxy and pause (``hack/testbin/build-node.sh --print-bin``).
        workdir: state of this node (created; removed by :meth:`stop`).
        die_with_parent: as for :class:`LocalCluster`.
        log: where progress lines go.
    """

    def __init__(
        self,
        cluster: LocalCluster,
        node_bin: Path,
        workdir: Path,
        *,
        die_with_parent: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        if cluster.node_address is None:
            raise NodeError(
                "the cluster was started without a node address: start it with "
                "LocalCluster(node_address=...) (python -m kontinue.devcluster up --real-node)"
            )
        self.cluster = cluster
        self.address = cluster.node_address
        self.node_bin = node_bin
        self.workdir = workdir.resolve()
        self.paths = _Paths(self.workdir)
        self.die_with_parent = die_with_parent
        self.log = log
        self.components: list[processes.Component] = []
        self.ports: dict[str, int] = {}
        self.undo = UndoLog(self.workdir / "undo.jsonl")
        self.timings: dict[str, float] = {}

    # -- paths and handles --------------------------------------------------------------------

    @property
    def containerd_socket(self) -> Path:
        """The node's containerd socket (``ctr -a``)."""
        return self.workdir / "containerd.sock"

    @property
    def name(self) -> str:
        """The Node object's name."""
        return REAL_NODE_NAME

    def ctr(self, *args: str, input: bytes | None = None, timeout: float = 300) -> str:
        """Run ``ctr`` against the node's containerd, in the CRI namespace ``k8s.io``."""
        socket = str(self.containerd_socket)
        return _run("ctr", "-a", socket, "-n", "k8s.io", *args, input=input, timeout=timeout)

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> RealNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> None:
        """Bring the node up and wait until it is Ready and kube-proxy serves; undo on failure."""
        missing = missing_prerequisites(self.node_bin)
        if missing:
            raise NodeError("a real node cannot start here; missing: " + "; ".join(missing))
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Drain the node, stop every process and undo every change to the machine."""
        started = time.monotonic()
        with contextlib.suppress(ClusterError, OSError):
            self._drain()
        for component in reversed(self.components):
            component.stop()
        self.components.clear()
        teardown(self.workdir, self.log)
        self.timings["teardown"] = time.monotonic() - started

    # -- start ---------------------------------------------------------------------------------

    def _phase(self, name: str, started: float) -> None:
        self.timings[name] = time.monotonic() - started

    def _component(self, name: str, argv: list[str]) -> processes.Component:
        component = processes.Component(
            name,
            argv,
            self.cluster.logs_dir / f"node-{name}.log",
            die_with_parent=self.die_with_parent,
        )
        component.start()
        self.components.append(component)
        return component

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for component in self.components:
                if not component.running():
                    raise NodeError(
                        f"{component.name} exited while waiting for {what}; last log lines "
                        f"({component.log_path}):\n{component.log_tail()}"
                    )
            if ready():
                return
            time.sleep(0.2)
        tails = "\n".join(f"--- {c.name} ({c.log_path})\n{c.log_tail(15)}" for c in self.components)
        raise NodeError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")

    def _start(self, timeout: float) -> None:
        if self.workdir.exists():
            teardown(self.workdir, self.log)  # what a killed earlier node left
        self.workdir.mkdir(parents=True)
        for name in ("kubelet", "kubelet-healthz", "proxy-healthz", "proxy-metrics"):
            self.ports[name] = processes.free_port()
        t0 = time.monotonic()
        self._host_network()
        self._phase("network", t0)

        t0 = time.monotonic()
        self._start_containerd()
        self._wait("containerd", self._containerd_ready, 30)
        pause = (self.node_bin / "pause.image").read_text().strip()
        self.ctr("images", "import", "-", input=pause_image_archive(self.node_bin / "pause", pause))
        self._phase("containerd", t0)

        t0 = time.monotonic()
        self._start_kubelet(pause)
        self._wait(f"node {self.name} Ready and schedulable", self._node_ready, timeout)
        self._phase("kubelet", t0)

        t0 = time.monotonic()
        self._start_kube_proxy()
        self._wait(
            "kube-proxy /healthz",
            lambda: _http.probe(f"http://127.0.0.1:{self.ports['proxy-healthz']}/healthz"),
            60,
        )
        self._wait("the kubernetes Service's endpoints", self._kubernetes_endpoints, 60)
        self._set_kwok_taint(True)
        self._phase("kube-proxy", t0)
        total = sum(self.timings.values())
        self.log(f"real node {self.name} ready in {total:.1f}s at {self.address}")

    def _host_network(self) -> None:
        for key in _SYSCTLS:
            path = _sysctl_path(key)
            if key.startswith("net.bridge") and not path.exists():
                _run("modprobe", "br_netfilter")
            if path.exists():
                self.undo.record("sysctl", key=key, value=path.read_text().strip())
        for key in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables"):
            _sysctl_path(key).write_text("1")
        self.undo.record("mounts", root=str(self.workdir))
        self.undo.record("log-links", target=str(self.paths.pod_logs),
                         created=not _CONTAINER_LOG_LINKS.exists())  # fmt: skip
        self.undo.record("cni-cache")
        self.undo.record("cgroup", path="kubepods")
        self.undo.record("iptables-chains", before={t: sorted(c) for t, c in
                                                    _iptables_chains().items()})  # fmt: skip
        self.undo.record("processes", marker=str(self.workdir))
        # the bridge (the CNI bridge plugin would create it too; owning it makes the teardown sure)
        if BRIDGE in _run("ip", "-o", "link", "show"):
            raise NodeError(f"a network device {BRIDGE} exists already (another real node?)")
        self.undo.record("link", name=BRIDGE)
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
        gateway = next(ipaddress.ip_network(POD_SUBNET).hosts())
        _run("ip", "addr", "add", f"{gateway}/{ipaddress.ip_network(POD_SUBNET).prefixlen}",
             "dev", BRIDGE)  # fmt: skip
        _run("ip", "link", "set", BRIDGE, "up")
        for cidr in CONFINED:  # the rest of the cluster ranges: onto the bridge, never out
            spec = [cidr, "dev", BRIDGE]
            self.undo.record("route", spec=spec)
            _run("ip", "route", "replace", *spec)
        # pods talk to each other and to this machine, never past it; Docker's FORWARD policy
        # (DROP) would otherwise drop even pod-to-pod traffic through the bridge
        self.undo.record("chain", table="filter", chain=_FORWARD_CHAIN)
        _run("iptables", "-N", _FORWARD_CHAIN)
        _run("iptables", "-A", _FORWARD_CHAIN, "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT")
        _run("iptables", "-A", _FORWARD_CHAIN, "-i", BRIDGE, "-j", "DROP")
        _run("iptables", "-A", _FORWARD_CHAIN, "-o", BRIDGE, "-j", "DROP")
        _run("iptables", "-I", "FORWARD", "1", "-j", _FORWARD_CHAIN)

    def _start_containerd(self) -> None:
        cni_conf = self.paths.cni_conf
        cni_conf.mkdir(parents=True)
        conflist = {
            "cniVersion": "1.0.0",
            "name": _NETWORK_NAME,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,  # nothing leaves this machine
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.paths.cni_ipam),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (cni_conf / "10-kontinue.conflist").write_text(json.dumps(conflist, indent=2))
        self.paths.registries.mkdir()
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""version = 2
root = "{self.paths.containerd_root}"
state = "{self.paths.containerd_state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{self.containerd_socket}"

[ttrpc]
  address = "{self.containerd_socket}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{self.paths.containerd_opt}"

[{cri}]
  sandbox_image = "{(self.node_bin / "pause.image").read_text().strip()}"
  # this machine may lack CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below ours
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{self.paths.runc}"

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{cni_conf}"

[{cri}.registry]
  config_path = "{self.paths.registries}"
"""
        (self.workdir / "containerd.toml").write_text(config)
        self._component(
            "containerd", ["/usr/bin/containerd", "--config", str(self.workdir / "containerd.toml")]
        )

    def _containerd_ready(self) -> bool:
        if not self.containerd_socket.exists():
            return False
        try:
            self.ctr("version", timeout=5)
        except (NodeError, subprocess.TimeoutExpired):
            return False
        return True

    def trust_local_registry(self, host_port: str) -> None:
        """Let the runtime pull from a plain-HTTP registry on this machine (e.g. 127.0.0.1:5000)."""
        host = host_port.split(":")[0]
        if not ipaddress.ip_address(host).is_loopback:
            raise NodeError(f"{host_port} is not on this machine's loopback")
        directory = self.paths.registries / host_port
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "hosts.toml").write_text(
            f'server = "http://{host_port}"\n\n[host."http://{host_port}"]\n'
            '  capabilities = ["pull", "resolve"]\n'
        )

    def _kubeconfig(self, stem: str, user: str, organization: str | None) -> Path:
        pki = _pki.Pki(self.cluster.workdir / "pki")
        cert, key = _pki.issue(pki, stem, user, organization=organization)
        path = self.workdir / f"{stem}.kubeconfig"
        path.write_text(
            _kubeconfig.render_kubeconfig(
                server=self.cluster.server,
                ca_cert=pki.ca_cert,
                client_cert=cert,
                client_key=key,
                user_name=user,
            )
        )
        path.chmod(0o600)
        return path

    def _start_kubelet(self, pause: str) -> None:
        pki = _pki.Pki(self.cluster.workdir / "pki")
        kubeconfig = self._kubeconfig("node-kubelet", f"system:node:{self.name}", "system:nodes")
        serving_cert, serving_key = _pki.issue(
            pki, "node-kubelet-serving", self.name,
            server_ips=(self.address,), server_names=(self.name,),
        )  # fmt: skip
        resolv = self.workdir / "resolv.conf"
        resolv.write_text("# no name servers: pods of the local node resolve nothing\n")
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": self.address,
            "port": self.ports["kubelet"],
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": self.ports["kubelet-healthz"],
            "tlsCertFile": str(serving_cert),
            "tlsPrivateKeyFile": str(serving_key),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(pki.ca_cert)},
            },
            "authorization": {"mode": "Webhook"},
            "cgroupDriver": "cgroupfs",
            "failSwapOn": False,
            "failCgroupV1": False,
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "podLogsDir": str(self.paths.pod_logs),
            "resolvConf": str(resolv),
            "clusterDomain": "cluster.local",
            "serializeImagePulls": False,
            # images are imported, never pulled again: keep them all
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },  # fmt: skip
            "maxPods": 110,
            "registerNode": True,
            "staticPodPath": "",
            "syncFrequency": "10s",
            "fileCheckFrequency": "0s",
            "nodeStatusUpdateFrequency": "5s",
        }
        (self.workdir / "kubelet.yaml").write_text(yaml.safe_dump(config))
        self._component(
            "kubelet",
            [
                str(self.node_bin / "kubelet"),
                f"--config={self.workdir / 'kubelet.yaml'}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={self.paths.kubelet}",
                f"--cert-dir={self.paths.kubelet_pki}",
                f"--hostname-override={self.name}",
                f"--node-ip={self.address}",
                f"--node-labels={REAL_NODE_LABEL}=true",
                f"--pod-infra-container-image={pause}",
                "--v=1",
            ],
        )

    def _node(self) -> dict[str, Any] | None:
        response = self.cluster.api.request("GET", f"/api/v1/nodes/{self.name}")
        return response.json() if response.status == 200 else None

    def _node_ready(self) -> bool:
        node = self._node()
        if node is None:
            return False
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in node.get("status", {}).get("conditions", [])
        )
        taints = node.get("spec", {}).get("taints") or []
        return ready and not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints)

    def _start_kube_proxy(self) -> None:
        kubeconfig = self._kubeconfig("node-kube-proxy", "system:kube-proxy", None)
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(kubeconfig)},
            "mode": "iptables",
            "hostnameOverride": self.name,
            "bindAddress": self.address,
            "healthzBindAddress": f"127.0.0.1:{self.ports['proxy-healthz']}",
            "metricsBindAddress": f"127.0.0.1:{self.ports['proxy-metrics']}",
            "clusterCIDR": POD_SUBNET,
            "nodePortAddresses": [f"{self.address}/32"],
            # leave the machine's conntrack limits and timeouts as they are
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },  # fmt: skip
            "iptables": {"localhostNodePorts": False, "syncPeriod": "30s", "minSyncPeriod": "0s"},
        }
        (self.workdir / "kube-proxy.yaml").write_text(yaml.safe_dump(config))
        binary = str(self.node_bin / "kube-proxy")
        self.undo.record("kube-proxy-cleanup", binary=binary)
        self._component("kube-proxy", [binary, f"--config={self.workdir / 'kube-proxy.yaml'}"])

    def _kubernetes_endpoints(self) -> bool:
        path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
        response = self.cluster.api.request(
            "GET", path + "?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes"
        )
        if response.status != 200:
            return False
        addresses = {
            a for s in response.json().get("items", []) for e in s.get("endpoints") or []
            for a in e.get("addresses", [])
        }  # fmt: skip
        return self.address in addresses

    def _set_kwok_taint(self, present: bool) -> None:
        node = self.cluster.api.request("GET", f"/api/v1/nodes/{NODE_NAME}")
        if node.status != 200:
            return
        taints = [t for t in node.json().get("spec", {}).get("taints") or []
                  if t.get("key") != KWOK_TAINT["key"]]  # fmt: skip
        if present:
            taints.append(KWOK_TAINT)
        response = self.cluster.api.request(
            "PATCH", f"/api/v1/nodes/{NODE_NAME}", {"spec": {"taints": taints}},
            content_type="application/merge-patch+json",
        )  # fmt: skip
        if response.status != 200:
            raise NodeError(f"tainting {NODE_NAME} failed: {response.status} {response.body!r}")

    # -- images --------------------------------------------------------------------------------

    def load_images(self, images: list[str], docker: str = "docker") -> float:
        """Copy images from the Docker engine into the node's runtime; returns the seconds taken."""
        started = time.monotonic()
        save = subprocess.Popen([docker, "save", *images], stdout=subprocess.PIPE)
        assert save.stdout is not None
        try:
            result = subprocess.run(
                ["ctr", "-a", str(self.containerd_socket), "-n", "k8s.io", "images", "import",
                 "-"],  # fmt: skip
                stdin=save.stdout, capture_output=True, timeout=600, check=False,
            )  # fmt: skip
        finally:
            save.stdout.close()
            save.wait()
        if save.returncode != 0 or result.returncode != 0:
            raise NodeError(
                f"loading {' '.join(images)} failed: "
                f"{result.stderr.decode(errors='replace').strip()}"
            )
        return time.monotonic() - started

    def images(self) -> list[str]:
        """The image references the node's runtime holds."""
        return self.ctr("images", "list", "-q").split()

    # -- drain ---------------------------------------------------------------------------------

    def _pods_here(self) -> list[dict[str, Any]]:
        response = self.cluster.api.request(
            "GET", f"/api/v1/pods?fieldSelector=spec.nodeName%3D{self.name}"
        )
        return list(response.json().get("items", [])) if response.status == 200 else []

    def _drain(self, timeout: float = 60.0) -> None:
        """Cordon, delete every pod on the node and wait until the runtime runs no container."""
        if not self.components:
            return
        self.cluster.api.request(
            "PATCH", f"/api/v1/nodes/{self.name}", {"spec": {"unschedulable": True}},
            content_type="application/merge-patch+json",
        )  # fmt: skip
        with contextlib.suppress(ClusterError):
            self._set_kwok_taint(False)
        for pod in self._pods_here():
            meta = pod["metadata"]
            self.cluster.api.request(
                "DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                {"gracePeriodSeconds": 0},
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                running = [line for line in self.ctr("tasks", "list", timeout=10).splitlines()[1:]
                           if "RUNNING" in line]  # fmt: skip
            except (NodeError, subprocess.TimeoutExpired):
                break
            if not running:
                break
            time.sleep(0.5)
        self.cluster.api.request("DELETE", f"/api/v1/nodes/{self.name}")


def iter_node_processes(workdir: Path) -> Iterator[int]:
    """Processes started for the node in ``workdir`` (components and containerd shims)."""
    yield from _pids_with(str(workdir.resolve()))
