"""The embedded local Kubernetes control plane, used by ``kontinue dev`` and the test fixtures.

It runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with one fake
node.

Run it from the shell with ``python -m kontinue.devcluster up|down|serve``; from Python with
:class:`LocalCluster`. The binaries come from the repository's ``hack/testbin/build.sh``.
"""

from kontinue.devcluster._cluster import ClusterError, LocalCluster
from kontinue.devcluster.testbin import find_testbin

__all__ = ["ClusterError", "LocalCluster", "find_testbin"]
