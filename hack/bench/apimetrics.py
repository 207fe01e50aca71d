"""What the benchmarks share: percentiles and the API server's own count of writes."""

from __future__ import annotations

import re
from collections import Counter

from kontinue.devcluster import LocalCluster


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values (nan when there are none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def write_counts(cluster: LocalCluster) -> Counter[str]:
    """Successful mutating requests so far, by resource (from apiserver_request_total)."""
    text = cluster.api.request("GET", "/metrics", timeout=30).body.decode()
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if labels.get("verb") not in ("POST", "PATCH", "PUT", "DELETE", "APPLY"):
            continue
        if not labels.get("code", "").startswith("2"):
            continue  # a refused conditional write (409) stores nothing
        counts[labels.get("resource", "")] += int(float(line.rsplit(" ", 1)[1]))
    return counts
