"""Simulated container output for the local cluster's pods.

kwok plays the kubelet but runs no container, so nothing prints. A pod annotated with
``kontinue.test/logs`` "prints" that text: :class:`PodLogs` watches pods, writes the text as a
CRI log file (the format a kubelet serves) and creates kwok's ``Logs`` object for the pod. kwok
then serves it on the node's kubelet endpoint, so ``kubectl logs`` and the API's ``pods/log``
return it, tail lines included. A pod without the annotation has no logs: reading them fails
with kwok's error, as a cluster that cannot serve logs would.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kontinue.api import labels
from kontinue.devcluster import _http

LOGS_CRD = "kwok.x-k8s.io_logs.yaml"
"""kwok's Logs CustomResourceDefinition, next to the binaries (``<bin>/../share``)."""


def cri_lines(text: str, when: datetime) -> str:
    """``text`` as CRI log lines: ``<RFC 3339 nano> stdout F <line>``."""
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    return "".join(f"{stamp} stdout F {line}\n" for line in text.splitlines())


class PodLogs(threading.Thread):
    """Watches pods and gives each annotated pod its log file and kwok Logs object."""

    def __init__(self, api: _http.ApiServer, directory: Path, stop: threading.Event) -> None:
        super().__init__(name="pod-logs", daemon=True)
        self._api = api
        self._directory = directory
        self._stopping = stop
        self._done: set[str] = set()

    def run(self) -> None:
        """List, then watch, pods until stopped (re-listing after a broken watch)."""
        while not self._stopping.is_set():
            try:
                listing = self._api.request("GET", "/api/v1/pods", timeout=30).json()
                for pod in listing.get("items") or []:
                    self._pod(pod)
                version = listing["metadata"]["resourceVersion"]
                query = urllib.parse.urlencode(
                    {"watch": "1", "resourceVersion": version, "timeoutSeconds": "60"}
                )
                for event in self._api.stream(f"/api/v1/pods?{query}", timeout=90):
                    if self._stopping.is_set():
                        return
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        self._pod(event["object"])
            except (OSError, ValueError, KeyError):
                time.sleep(0.5)  # the API server is (re)starting or stopping

    def _pod(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        text = (meta.get("annotations") or {}).get(labels.TEST_LOGS)
        uid = meta.get("uid", "")
        if text is None or uid in self._done:
            return
        namespace, name = meta["namespace"], meta["name"]
        path = self._directory / namespace / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cri_lines(text, datetime.now(UTC)))
        logs = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "Logs",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"logs": [{"logsFile": str(path)}]},
        }
        response = self._api.request(
            "POST", f"/apis/kwok.x-k8s.io/v1alpha1/namespaces/{namespace}/logs", logs
        )
        if response.status in (201, 409):
            self._done.add(uid)


def crd_path(bin_dir: Path) -> Path:
    """The file of kwok's Logs CRD in a testbin build."""
    return bin_dir.parent / "share" / LOGS_CRD
