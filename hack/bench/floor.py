"""The per-step floor (``make bench-floor``): where one store step's time goes. Asserts nothing.

On the real local control plane with etcd fsync ON (``LocalCluster(fsync=True)``) it writes,
in interleaved blocks so that the machine's load hits every kind alike:

  configmap    a PATCH of a small ConfigMap (the cheapest object write beside ours);
  small-exec   a conditional status PATCH of an Execution with a small status;
  store-before a store step through the worker's journal (``KubeJournal.commit_store``) as it
               was: the status holds 32 to 64 step records (``keep_steps=32``) and each write
               asks for the whole Execution back (``KONTINUE_STATUS_ANSWER=full``);
  store-meta   the same, asking only for the object's metadata back;
  store-after  the engine's default now: the status holds 8 to 40 step records
               (``KEEP_STEPS``) and the answer is the metadata only.

For each kind it prints the client side (request and response bytes, JSON encode and decode
time, round trip) and what the API server and etcd report in their own ``/metrics`` for the
same block of writes: request duration, admission, CEL rules, etcd requests, watch events,
WAL fsync and backend commit. Then a profile of the worker's side of the store step.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import re
import statistics
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from apimetrics import pct
from benchcluster import create_namespace, start_cluster

from kontinue.client import Kube, kubeapi
from kontinue.devcluster import LocalCluster
from kontinue.engine.records import StepRecord
from kontinue_worker import journal as journal_module
from kontinue_worker.journal import KubeJournal
from kontinue_worker.waiting import WaitHub

NAMESPACE = "floor"
WORKER = "floor-worker"

VARIANTS = {
    "store-before": ("full", 32),
    "store-meta": ("metadata", 32),
    "store-after": ("metadata", journal_module.KEEP_STEPS),
}
"""Store-step variants measured: (status answer, step records a compaction keeps)."""

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scrape(text: str) -> Series:
    """Prometheus text as {(name, labels): value}."""
    series: Series = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        name, raw_labels, value = match.groups()
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', raw_labels or ""))
        try:
            series[(name, labels)] = float(value)
        except ValueError:
            continue
    return series


def delta(after: Series, before: Series) -> Series:
    """The change of every series from ``before`` to ``after``."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def total(diff: Series, name: str, **match: str) -> float:
    """Sum of the series called ``name`` whose labels include ``match``."""
    return sum(
        value
        for (series, labels), value in diff.items()
        if series == name and all((k, v) in labels for k, v in match.items())
    )


class Metrics:
    """The API server's and etcd's /metrics."""

    def __init__(self, cluster: LocalCluster) -> None:
        self._cluster = cluster
        self._etcd = f"http://127.0.0.1:{cluster.ports['etcd']}/metrics"

    def snapshot(self) -> tuple[Series, Series]:
        """The API server's series and etcd's, now."""
        api = self._cluster.api.request("GET", "/metrics", timeout=30).body.decode()
        with urllib.request.urlopen(self._etcd, timeout=30) as response:  # noqa: S310 - local
            etcd = response.read().decode()
        return scrape(api), scrape(etcd)


class TimedKube(Kube):
    """A Kube that notes each request's body and answer: bytes, encode and decode time.

    The encode and decode are timed by doing them once more beside the request (the request
    itself runs unchanged), so the round trip measured around it is the engine's own.
    """

    def __init__(self, kubeconfig: str) -> None:
        super().__init__(kubeconfig)
        self.notes: list[dict[str, float]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`Kube.request`, noting what a PATCH sent and got back."""
        started = time.perf_counter()
        result = super().request(method, path, **kwargs)
        round_trip = time.perf_counter() - started
        if method == "PATCH":
            body = kwargs.get("body")
            t0 = time.perf_counter()
            data = json.dumps(body).encode()
            t1 = time.perf_counter()
            answer = json.dumps(result, separators=(",", ":")).encode()
            t2 = time.perf_counter()
            json.loads(answer)  # what the client's decoder does first
            t3 = time.perf_counter()
            self.notes.append(
                {
                    "round_trip": round_trip,
                    "body_bytes": len(data),
                    "encode": t1 - t0,
                    "answer_bytes": len(answer),
                    "decode": t3 - t2,
                }
            )
        return result


Writer = Callable[[int], None]


def configmap_writer(kube: Kube) -> Writer:
    """PATCHes of a small ConfigMap (one key changed, conditional on its resourceVersion)."""
    obj = kube.create(
        kubeapi.CONFIGMAPS,
        NAMESPACE,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "floor-cm"}, "data": {}},
    )
    version = [obj["metadata"]["resourceVersion"]]

    def write(i: int) -> None:
        obj = kube.merge_patch(
            kubeapi.CONFIGMAPS,
            NAMESPACE,
            "floor-cm",
            {"data": {"i": str(i)}},
            resource_version=version[0],
        )
        version[0] = obj["metadata"]["resourceVersion"]

    return write


def claimed_execution(kube: Kube, name: str) -> dict[str, Any]:
    """An Execution claimed by ``WORKER`` (claim 1, Executing), as a worker's claim leaves it."""
    kube.create(
        kubeapi.EXECUTIONS,
        NAMESPACE,
        {
            "apiVersion": "kontinue.cloud/v1alpha1",
            "kind": "Execution",
            "metadata": {"name": name},
            "spec": {"function": "floor", "workerGroup": "default"},
        },
    )
    return kube.merge_patch(
        kubeapi.EXECUTIONS,
        NAMESPACE,
        name,
        {"status": {"phase": "Executing", "claim": 1, "workerId": WORKER, "attempt": 1}},
        subresource="status",
    )


def small_execution_writer(kube: Kube) -> Writer:
    """Conditional status PATCHes of an Execution whose status stays small (one field)."""
    obj = claimed_execution(kube, "floor-small")
    version = [obj["metadata"]["resourceVersion"]]

    def write(i: int) -> None:
        obj = kube.merge_patch(
            kubeapi.EXECUTIONS,
            NAMESPACE,
            "floor-small",
            {"status": {"message": f"step {i}"}},
            subresource="status",
            resource_version=version[0],
        )
        version[0] = obj["metadata"]["resourceVersion"]

    return write


def _payload(i: int) -> dict[str, Any]:
    return {"i": i, "payload": "x" * 64}  # what hack/bench/bench_flows.py's steps store


def store_writer(
    kube: Kube, hub: WaitHub, name: str, answer: str, keep: int
) -> tuple[Writer, KubeJournal]:
    """Store steps through the worker's journal.

    ``answer``: the status answer, ``full`` or ``metadata``; ``keep``: the step records a
    compaction leaves in the status.
    """
    journal = KubeJournal(kube, claimed_execution(kube, name), worker=WORKER, hub=hub)
    journal.status_answer = answer
    journal.keep_steps = keep
    counter = [0]

    def write(i: int) -> None:
        index = counter[0]
        counter[0] += 1
        stamp = "2030-01-01T00:00:00Z"
        record = StepRecord(
            name=f"store-{index}", type="store", index=index, started_at=stamp,
            finished_at=stamp, value_type="dict", attempt=1,
        )  # fmt: skip
        journal.commit_store(record, _payload(index))

    return write, journal


def mean(diff: Series, name: str, **match: str) -> float:
    """Mean of a histogram's observations in ``diff`` (nan when none)."""
    count = total(diff, name + "_count", **match)
    return total(diff, name + "_sum", **match) / count if count else float("nan")


def breakdown(
    notes: list[dict[str, float]], api: Series, etcd: Series, writes: int, resource: str
) -> dict[str, float]:
    """The per-write figures of one kind, from its blocks' client notes and metric deltas."""
    sub = "status" if resource == "executions" else ""
    req = {"verb": "PATCH", "resource": resource, "subresource": sub}
    per = 1.0 / writes
    figures = {
        "round trip p50 (client)": statistics.median(n["round_trip"] for n in notes) * 1e3,
        "round trip p90 (client)": pct([n["round_trip"] for n in notes], 0.9) * 1e3,
        "request body bytes": statistics.median(n["body_bytes"] for n in notes),
        "client JSON encode": statistics.median(n["encode"] for n in notes) * 1e3,
        "answer bytes": statistics.median(n["answer_bytes"] for n in notes),
        "client JSON decode": statistics.median(n["decode"] for n in notes) * 1e3,
        "apiserver request (mean)": mean(api, "apiserver_request_duration_seconds", **req) * 1e3,
        "  admission (all steps)": total(
            api, "apiserver_admission_step_admission_duration_seconds_sum"
        )
        * per
        * 1e3,
        "  CEL evaluation": total(api, "apiserver_cel_evaluation_duration_seconds_sum") * per * 1e3,
        "  CEL compilation": total(api, "apiserver_cel_compilation_duration_seconds_sum")
        * per
        * 1e3,
        "  etcd requests (sum)": total(api, "etcd_request_duration_seconds_sum") * per * 1e3,
        "  etcd requests (count)": total(api, "etcd_request_duration_seconds_count") * per,
        "  etcd update (mean)": mean(api, "etcd_request_duration_seconds", operation="update")
        * 1e3,
        "  watch events sent": total(api, "apiserver_watch_events_total") * per,
        "  watch event bytes": total(api, "apiserver_watch_events_sizes_sum") * per,
        "etcd WAL fsync (mean)": mean(etcd, "etcd_disk_wal_fsync_duration_seconds") * 1e3,
        "etcd WAL fsyncs": total(etcd, "etcd_disk_wal_fsync_duration_seconds_count") * per,
        "etcd backend commit (mean)": mean(etcd, "etcd_disk_backend_commit_duration_seconds") * 1e3,
    }
    figures["rest: HTTP, TLS, client (mean)"] = (
        statistics.fmean(n["round_trip"] for n in notes) * 1e3
        - figures["apiserver request (mean)"]
        - figures["client JSON encode"]
        - figures["client JSON decode"]
    )
    return figures


UNITS = {"bytes": "B", "count": "", "sent": "", "fsyncs": ""}


def print_table(columns: Mapping[str, Mapping[str, float]]) -> None:
    """Rows of figures, one column per kind."""
    kinds = list(columns)
    rows = list(next(iter(columns.values())))
    width = max(len(r) for r in rows) + 6
    print(f"{'per write':<{width}}" + "".join(f"{k:>14}" for k in kinds))
    for row in rows:
        unit = next((u for key, u in UNITS.items() if key in row), "ms")
        cells = []
        for kind in kinds:
            value = columns[kind][row]
            cells.append(f"{value:>14.0f}" if unit == "B" else f"{value:>14.2f}")
        label = f"{row} ({unit})" if unit else row
        print(f"{label:<{width}}" + "".join(cells))


def profile_steps(write: Writer, n: int) -> None:
    """Profile ``n`` store steps (cProfile): where the worker's own time goes, by area."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for i in range(n):
        write(i)
    profiler.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    areas: dict[str, float] = defaultdict(float)
    raw: Mapping[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        areas[_area(filename, function)] += tottime
    print(
        f"worker side of {n} store steps (cProfile, self time per step; "
        f"wall {wall / n * 1e3:.2f} ms)"
    )
    for area, seconds in sorted(areas.items(), key=lambda kv: -kv[1]):
        if seconds / n * 1e3 >= 0.005:
            print(f"  {area:<46}{seconds / n * 1e3:>8.3f} ms")


def _area(filename: str, function: str) -> str:
    if function in (
        "<method 'recv_into' of '_socket.socket' objects>",
        "<method 'read' of '_ssl._SSLSocket' objects>",
    ):
        return "waiting for the answer (socket read)"
    if "sendall" in function or "'write' of '_ssl" in function or "send" in function:
        return "sending (socket write)"
    if "json" in filename or "json" in function:
        return "JSON encode/decode"
    if "urllib3" in filename or "http/client" in filename or "email" in filename:
        return "HTTP client (urllib3, http.client)"
    if "kontinue" in filename:
        return "kontinue (journal, patch ops, records)"
    return "other (stdlib, builtins)"


def run_blocks(
    writers: Mapping[str, tuple[Writer, TimedKube]],
    metrics: Metrics,
    rounds: int,
    block: int,
) -> dict[str, tuple[list[dict[str, float]], Series, Series, int]]:
    """``rounds`` times, ``block`` writes of each kind in turn; per kind its notes and deltas."""
    notes: dict[str, list[dict[str, float]]] = defaultdict(list)
    api_diff: dict[str, Series] = defaultdict(dict)
    etcd_diff: dict[str, Series] = defaultdict(dict)
    counter: dict[str, int] = defaultdict(int)
    shuffler = random.Random(20)
    for _ in range(rounds):
        order = list(writers)
        shuffler.shuffle(order)  # no kind always follows the same one
        for kind in order:
            write, kube = writers[kind]
            kube.notes.clear()
            api_before, etcd_before = metrics.snapshot()
            for _ in range(block):
                write(counter[kind])
                counter[kind] += 1
            api_after, etcd_after = metrics.snapshot()
            notes[kind].extend(n for n in kube.notes if n)
            _accumulate(api_diff[kind], delta(api_after, api_before))
            _accumulate(etcd_diff[kind], delta(etcd_after, etcd_before))
    return {k: (notes[k], api_diff[k], etcd_diff[k], counter[k]) for k in writers}


def _accumulate(into: Series, diff: Iterable[tuple[Any, float]] | Series) -> None:
    items = diff.items() if isinstance(diff, dict) else diff
    for key, value in items:
        into[key] = into.get(key, 0.0) + value


def main() -> int:
    """Start an fsync-ON control plane, write in interleaved blocks, print the breakdown."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--block", type=int, default=16)
    parser.add_argument("--profile-steps", type=int, default=300)
    args = parser.parse_args()
    cluster = start_cluster("kontinue-floor-", fsync=True)
    stop = threading.Event()
    try:
        kubeconfig = str(cluster.kubeconfig)
        create_namespace(Kube(kubeconfig), NAMESPACE)
        hub = WaitHub(Kube(kubeconfig), [NAMESPACE], "default", stop, jobs=False)
        kubes = {kind: TimedKube(kubeconfig) for kind in ("cm", "small", *VARIANTS)}
        writers = {
            "configmap": (configmap_writer(kubes["cm"]), kubes["cm"]),
            "small-exec": (small_execution_writer(kubes["small"]), kubes["small"]),
        }
        for kind, (answer, keep) in VARIANTS.items():
            write, _ = store_writer(kubes[kind], hub, f"floor-{kind}", answer, keep)
            writers[kind] = (write, kubes[kind])
        for write, _kube in writers.values():  # warm up: connections, the CRD's CEL programs
            for i in range(64):
                write(i)  # the store executions reach their steady band (32-64 step records)
        metrics = Metrics(cluster)
        results = run_blocks(writers, metrics, args.rounds, args.block)
        columns = {}
        for kind, (notes, api, etcd, writes) in results.items():
            resource = "configmaps" if kind == "configmap" else "executions"
            columns[kind] = breakdown(notes, api, etcd, writes, resource)
        print(
            f"kontinue per-step floor (local control plane, etcd fsync ON; {args.rounds} "
            f"interleaved rounds of {args.block} writes per kind, kinds in shuffled order; "
            "compare columns, not runs)"
        )
        print_table(columns)
        for kind in ("store-before", "store-after"):
            answer, keep = VARIANTS[kind]
            plain = Kube(kubeconfig)  # no notes: the profile sees only the engine's work
            write, _ = store_writer(plain, hub, f"floor-profile-{kind}", answer, keep)
            for i in range(64):
                write(i)
            print(f"\n{kind}: ", end="")
            profile_steps(write, args.profile_steps)
        print(
            json.dumps(
                {kind: {k: round(v, 3) for k, v in c.items()} for kind, c in columns.items()}
            )
        )
        return 0
    finally:
        stop.set()
        cluster.stop()


if __name__ == "__main__":
    os.environ.setdefault("KONTINUE_LOG_LEVEL", "WARNING")
    sys.exit(main())
