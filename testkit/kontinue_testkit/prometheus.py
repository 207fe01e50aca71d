"""A real Prometheus server for tests, configured from the chart's monitors; dashboard queries.

- :func:`scrape_configs` turns the ``ServiceMonitor`` and ``PodMonitor`` a chart renders into
  the scrape jobs the Prometheus Operator would generate from them: Kubernetes service
  discovery of the pods, kept by the same label selectors and port names, with the operator's
  target labels (``namespace``, ``pod``, ``container``, ``job``).
- :class:`PrometheusServer` runs the ``prometheus`` binary (``hack/testbin/build-tools.sh``) on
  127.0.0.1 with those jobs and answers instant and range queries (a PromQL error raises).
- :func:`dashboard_queries` reads every query of every panel (rows included) of Grafana
  dashboard files, with Grafana's variables put in as Grafana would for "All" and a one-minute
  rate window.
"""

from __future__ import annotations

import functools
import json
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kontinue.devcluster.processes import Component, free_port


def _label(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _pod_job(
    job_name: str,
    namespaces: list[str],
    selector: dict[str, str],
    port: str,
    path: str,
    interval: str,
    kubeconfig: Path,
) -> dict[str, Any]:
    keep = [
        {
            "source_labels": [f"__meta_kubernetes_pod_label_{_label(key)}"],
            "regex": re.escape(value),
            "action": "keep",
        }
        for key, value in sorted(selector.items())
    ]
    return {
        "job_name": job_name,
        "scrape_interval": interval,
        "metrics_path": path,
        "kubernetes_sd_configs": [
            {"role": "pod", "kubeconfig_file": str(kubeconfig), "namespaces": {"names": namespaces}}
        ],
        "relabel_configs": [
            *keep,
            {
                "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                "regex": port,
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_phase"],
                "regex": "(Failed|Succeeded)",
                "action": "drop",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {
                "source_labels": ["__meta_kubernetes_pod_container_name"],
                "target_label": "container",
            },
        ],  # fmt: skip
    }


def _selected(labels: dict[str, str], selector: dict[str, Any]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def scrape_configs(objects: list[dict[str, Any]], kubeconfig: Path) -> list[dict[str, Any]]:
    """The scrape jobs the rendered ``objects``' ServiceMonitors and PodMonitors describe.

    A ServiceMonitor's endpoints are resolved through the rendered Services it selects (their
    pod selectors and target ports), so the release needs no monitoring CRDs to be scraped.
    """
    jobs: list[dict[str, Any]] = []
    services = [o for o in objects if o["kind"] == "Service"]
    for monitor in objects:
        kind, meta, spec = monitor["kind"], monitor.get("metadata", {}), monitor.get("spec", {})
        if kind not in ("ServiceMonitor", "PodMonitor"):
            continue
        namespaces = (spec.get("namespaceSelector") or {}).get("matchNames") or [meta["namespace"]]
        if kind == "PodMonitor":
            for index, endpoint in enumerate(spec["podMetricsEndpoints"]):
                jobs.append(_pod_job(
                    f"podMonitor/{meta['namespace']}/{meta['name']}/{index}", namespaces,
                    spec["selector"].get("matchLabels") or {}, endpoint["port"],
                    endpoint.get("path", "/metrics"), endpoint.get("interval", "30s"), kubeconfig,
                ))  # fmt: skip
            continue
        for index, endpoint in enumerate(spec["endpoints"]):
            for service in services:
                service_labels = service["metadata"].get("labels") or {}
                if not _selected(service_labels, spec["selector"]):
                    continue
                ports = [p for p in service["spec"]["ports"] if p.get("name") == endpoint["port"]]
                for port in ports:
                    jobs.append(_pod_job(
                        f"serviceMonitor/{meta['namespace']}/{meta['name']}/{index}/"
                        f"{service['metadata']['name']}",
                        namespaces, service["spec"]["selector"], str(port["targetPort"]),
                        endpoint.get("path", "/metrics"), endpoint.get("interval", "30s"),
                        kubeconfig,
                    ))  # fmt: skip
    return jobs


class PromQLError(RuntimeError):
    """Prometheus refused a query."""


class PrometheusServer:
    """``prometheus`` on a free loopback port, scraping ``jobs``, its data in ``workdir``."""

    def __init__(self, binary: Path, workdir: Path, jobs: list[dict[str, Any]]) -> None:
        self.binary = binary
        self.workdir = workdir
        self.jobs = jobs
        self.port = free_port()
        self.component: Component | None = None
        self.started = 0.0
        """When it started (epoch seconds)."""

    @property
    def url(self) -> str:
        """Its HTTP address."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        """Write the configuration, start the server and wait until it is ready."""
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
            "scrape_configs": self.jobs,
        }))  # fmt: skip
        self.component = Component(
            "prometheus",
            [
                str(self.binary),
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            self.workdir / "prometheus.log",
        )
        self.component.start()
        self.started = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.component.running():
                raise AssertionError(f"prometheus exited:\n{self.component.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready:\n{self.component.log_tail()}")

    def stop(self) -> None:
        """Stop the server."""
        if self.component is not None:
            self.component.stop()

    def _get(self, path: str, **params: str) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body.get("status") != "success":
            raise PromQLError(f"{params or path}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar, as one sample) ``expr`` evaluates to now."""
        data = self._get("/api/v1/query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"value": data["result"]}]
        return list(data["result"])

    def has_data(self, expr: str, since: float, step: float = 5.0) -> bool:
        """Whether ``expr`` had a number (not NaN) at any step from ``since`` until now.

        This is what a Grafana panel over that time range shows: a panel is empty when no
        series has a value anywhere in the range.
        """
        data = self._get(
            "/api/v1/query_range",
            query=expr,
            start=f"{since:.3f}",
            end=f"{time.time():.3f}",
            step=f"{step:g}",
        )
        return any(
            value != "NaN" for series in data["result"] for _stamp, value in series["values"]
        )

    def healthy_targets(self) -> list[dict[str, Any]]:
        """The active targets whose last scrape succeeded."""
        targets = self._get("/api/v1/targets", state="active")["activeTargets"]
        return [t for t in targets if t["health"] == "up"]


@dataclass(frozen=True)
class DashboardQuery:
    """One query of a dashboard panel, ready for Prometheus."""

    dashboard: str
    panel: str
    ref: str
    expr: str

    @property
    def where(self) -> str:
        """Dashboard / panel / query reference."""
        return f"{self.dashboard} / {self.panel} / {self.ref}"


_GRAFANA_INTERVALS = {
    "$__rate_interval": "1m",  # Grafana: max(4 x the 5 s scrape interval, interval + scrape)
    "$__interval": "15s",
    "$__range": "1h",
}


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels") or []))
    return found


def _prepare(expr: str, variables: list[str]) -> str:
    for token, value in _GRAFANA_INTERVALS.items():
        expr = expr.replace(token, value)
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(f"${{{name}}}", ".*").replace(f"${name}", ".*")
    return expr


def dashboard_queries(paths: list[Path]) -> list[DashboardQuery]:
    """Every target expression of every panel, and every variable's query, of ``paths``.

    Multi-value variables become ``.*`` (Grafana's "All"); ``label_values(metric, label)``
    becomes the PromQL Grafana evaluates for it.
    """
    queries: list[DashboardQuery] = []
    for path in paths:
        dashboard = json.loads(path.read_text())
        title = str(dashboard.get("title") or path.stem)
        variables = [v["name"] for v in (dashboard.get("templating") or {}).get("list", [])]
        prepare = functools.partial(_prepare, variables=variables)

        for panel in _panels(dashboard.get("panels") or []):
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    queries.append(DashboardQuery(
                        title, str(panel.get("title")), str(target.get("refId", "?")),
                        prepare(target["expr"]),
                    ))  # fmt: skip
        for variable in (dashboard.get("templating") or {}).get("list", []):
            query = variable.get("query")
            text = query.get("query") if isinstance(query, dict) else query
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", str(text or "").strip())
            if variable.get("type") == "query" and match:
                metric, label = match.groups()
                queries.append(DashboardQuery(
                    title, f"variable {variable['name']}", "query",
                    f"group by ({label}) ({prepare(metric)})",
                ))  # fmt: skip
    return queries
