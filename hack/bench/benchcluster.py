"""The local control plane every benchmark starts: quiet, in a fresh directory, with the CRDs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from kontinue.client import Kube, kubeapi
from kontinue.devcluster import LocalCluster, find_testbin

ROOT = Path(__file__).resolve().parents[2]
NAMESPACES = kubeapi.Resource("/api/v1", "namespaces")


def start_cluster(prefix: str, *, fsync: bool = False) -> LocalCluster:
    """A started control plane in a new ``/tmp/<prefix>*`` directory with kontinue's CRDs.

    ``fsync``: etcd fsyncs its writes, as in production. The caller stops it; a failure while
    installing the CRDs stops it here.
    """
    cluster = LocalCluster(
        find_testbin(), Path(tempfile.mkdtemp(prefix=prefix)), log=lambda line: None, fsync=fsync
    )
    cluster.start()
    try:
        cluster.install_crds(sorted((ROOT / "crds").glob("*.yaml")))
    except BaseException:
        cluster.stop()
        raise
    return cluster


def create_namespace(kube: Kube, name: str) -> None:
    """Create a namespace."""
    kube.create(
        NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
