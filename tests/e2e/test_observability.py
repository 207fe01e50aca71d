"""Metrics, traces and dashboards end to end: real worker processes, the session's controller.

- the services' ``/metrics`` hold the expected series with the right values after workflows ran;
- spans (written as JSON lines by every process, ``OTEL_TRACES_EXPORTER=jsonl``) form one trace
  per root execution whose tree matches the execution tree, across a worker killed mid-run;
- every query of every Grafana dashboard in the chart names metrics the services export.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from kontinue.api import labels
from kontinue.client import Client
from kontinue.devcluster.processes import free_port
from kontinue.telemetry import trace_ids
from kontinue.workflow import ExecuteOptions, RetryOptions
from kontinue_testkit.pytest_plugin import (
    SessionController,
    StartUi,
    StartWorker,
    TestCluster,
    trace_file_env,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).parent / "workflows"
DASHBOARDS = ROOT / "charts" / "kontinue" / "dashboards"


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def _samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _exposed_names(text: str) -> set[str]:
    """Every series name the exposition holds or announces (a family without samples yet)."""
    names = {name for name, _ in _samples(text)}
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


def _value(samples: Samples, name: str, **wanted: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``wanted``."""
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(wanted.items()) <= set(sample_labels)
    )


def _worker_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/metrics"


def _run_all(client: Client, names: Iterable[str], timeout: float = 90) -> dict[str, str]:
    return {name: client.wait(name, timeout=timeout)["status"]["phase"] for name in names}


# -- metrics -----------------------------------------------------------------------------------


def test_metrics_count_what_ran_and_the_queue_drains(
    client: Client,
    start_worker: StartWorker,
    kontinue_controller: SessionController,
    namespace: str,
) -> None:
    quick = [client.create_execution("obs-quick", {"n": i})["metadata"]["name"] for i in range(5)]

    def queued() -> bool:
        samples = _samples(_scrape(kontinue_controller.metrics_url))
        pending = _value(
            samples, "kontinue_executions_pending", namespace=namespace, function="obs-quick"
        )
        return pending == 5

    wait_for("the controller to see 5 queued executions", queued, timeout=30)

    port = free_port()
    start_worker("obs_flows", path=FLOWS, hold=1, concurrency=4, metrics_port=port)
    retry = ExecuteOptions(retry=RetryOptions(retries=1, backoff="1s"))
    fails = [
        client.create_execution("obs-fails", None, retry)["metadata"]["name"] for _ in range(2)
    ]
    sleeper = client.create_execution("obs-sleeper", {"seconds": 2})["metadata"]["name"]
    phases = _run_all(client, [*quick, *fails, sleeper])
    assert phases == {
        **dict.fromkeys(quick, "Completed"),
        **dict.fromkeys(fails, "Failed"),
        sleeper: "Completed",
    }

    finished = "kontinue_executions_finished_total"

    def all_counted() -> Samples | None:
        # a worker counts an execution just after its terminal write, which the test may see
        # first (on a loaded machine it does): wait until the last ones are counted too
        samples = _samples(_scrape(_worker_url(port)))
        counts = [
            _value(samples, finished, function="obs-quick", outcome="completed"),
            _value(samples, finished, function="obs-fails", outcome="failed"),
            _value(samples, finished, function="obs-sleeper", outcome="completed"),
        ]
        return samples if counts == [5, 2, 1] else None

    worker = wait_for("the worker to count every finished execution", all_counted, timeout=10)
    assert _value(worker, "kontinue_executions_started_total", function="obs-quick") == 5
    assert _value(worker, "kontinue_executions_started_total", function="obs-fails") == 2
    assert _value(worker, finished, function="obs-quick", outcome="completed") == 5
    assert _value(worker, finished, function="obs-fails", outcome="failed") == 2
    assert _value(worker, finished, function="obs-sleeper", outcome="completed") == 1
    # the original product's series, under their original names and labels
    completed = "kontinue_executions_completed"
    assert _value(worker, completed, function="obs-quick", result="success") == 5
    assert _value(worker, completed, function="obs-fails", result="error") == 2
    # the worker's processing time, one observation per dispatch, with the original labels
    latency = "kontinue_execution_latency_count"
    assert (
        _value(worker, latency, function="obs-quick", namespace=namespace, worker="worker-1") == 5
    )
    assert _value(worker, latency, function="obs-sleeper") == 2  # released, then resumed
    assert _value(worker, "kontinue_execution_end_to_end_seconds_count", function="obs-quick") == 5
    running = "kontinue_executions_running"
    assert _value(worker, running, namespace=namespace, worker="worker-1") == 0
    assert any(
        name == running and dict(lbls).get("function") == "obs-quick" for name, lbls in worker
    )
    # attempts: two failed ones per obs-fails, a release and a completion for the sleeper
    attempts = "kontinue_attempt_duration_seconds_count"
    assert _value(worker, attempts, function="obs-fails", outcome="failed") == 4
    assert _value(worker, attempts, function="obs-sleeper", outcome="released") == 1
    assert _value(worker, attempts, function="obs-sleeper", outcome="completed") == 1
    assert _value(worker, "kontinue_resumptions_total", function="obs-fails") == 2
    assert _value(worker, "kontinue_resumptions_total", function="obs-sleeper") == 1
    assert _value(worker, "kontinue_claim_latency_seconds_count", function="obs-quick") == 5
    # five stores, four failing ones, one sleep (the replayed sleep is not counted again)
    steps = "kontinue_step_duration_seconds_count"
    assert _value(worker, steps, type="store") == 9
    assert _value(worker, steps, type="sleep") == 1
    durations = "kontinue_execution_duration_seconds_count"
    assert _value(worker, durations, function="obs-fails", outcome="failed") == 2
    assert _value(worker, "kontinue_worker_slots", state="busy") == 0
    assert _value(worker, "kontinue_worker_slots", state="free") == 4

    def drained() -> Samples | None:
        samples = _samples(_scrape(kontinue_controller.metrics_url))
        pending = _value(samples, "kontinue_executions_pending", namespace=namespace)
        waiting = _value(samples, "kontinue_suspensions_waiting", namespace=namespace)
        return samples if pending == 0 and waiting == 0 else None

    controller = wait_for("the queue to drain", drained, timeout=30)
    assert ("kontinue_executions_pending", frozenset(
        {("namespace", namespace), ("group", "default"), ("function", "obs-quick")}
    )) in controller  # fmt: skip
    states = "kontinue_execution_states"
    assert _value(controller, states, namespace=namespace, state="Completed") == 6
    assert _value(controller, states, namespace=namespace, state="Failed") == 2
    assert _value(controller, "kontinue_controller_leading") == 1
    lateness = "kontinue_controller_timer_lateness_seconds_count"
    assert _value(controller, lateness, duty="sleep") >= 1
    assert _value(controller, lateness, duty="backoff") >= 2
    for text in (_scrape(kontinue_controller.metrics_url), _scrape(_worker_url(port))):
        assert "kontinue_api_request_errors_total" in _exposed_names(text)
        # bounded labels: no execution's name in any label value
        for _, sample_labels in _samples(text):
            assert not {v for _, v in sample_labels} & {*quick, *fails, sleeper}


def test_metrics_and_tracing_add_no_api_writes(
    client: Client,
    start_worker: StartWorker,
    kube_cluster: TestCluster,
    namespace: str,
    tmp_path: Path,
) -> None:
    traces = tmp_path / "traces.jsonl"
    start_worker("obs_flows", path=FLOWS, metrics_port=free_port(), env=trace_file_env(traces))
    name = client.create_execution("obs-trivial")["metadata"]["name"]
    assert client.wait(name, timeout=60)["status"]["phase"] == "Completed"
    wait_for("the execution span", lambda: _of(_spans(traces), "execution ", name), timeout=10)
    writes = [
        (event["verb"], event["objectRef"].get("resource"), event["objectRef"].get("subresource"))
        for event in kube_cluster.audit_events(namespace)
        if event.get("verb") in ("create", "update", "patch", "delete")
        and event["objectRef"].get("resource") in ("executions", "events")  # the only execution
    ]
    # the design's budget for a trivial execution: create, claim, complete
    assert writes == [
        ("create", "executions", None),
        ("patch", "executions", "status"),
        ("patch", "executions", "status"),
    ]


# -- traces ------------------------------------------------------------------------------------


def _spans(*files: Path) -> list[dict[str, Any]]:
    spans = []
    for path in files:
        if path.exists():
            complete = path.read_text().split("\n")[:-1]  # a line being appended is left out
            spans += [json.loads(line) for line in complete if line]
    return spans


def _of(spans: list[dict[str, Any]], prefix: str, execution: str) -> list[dict[str, Any]]:
    return [
        s
        for s in spans
        if s["name"].startswith(prefix) and s["attributes"].get("kontinue.execution") == execution
    ]


def test_one_trace_follows_a_tree_across_a_killed_worker(
    client: Client,
    start_worker: StartWorker,
    kontinue_controller: SessionController,
    tmp_path: Path,
    namespace: str,
) -> None:
    traces, go = tmp_path / "traces.jsonl", tmp_path / "go"
    env = trace_file_env(traces)
    first = start_worker("obs_flows", path=FLOWS, lease_duration=3, name="obs-1", env=env)
    root_obj = client.create_execution("obs-tree", {"go": str(go)})
    root = root_obj["metadata"]["name"]
    left, right = f"{root}--left", f"{root}--right"

    def spans() -> list[dict[str, Any]]:
        return _spans(traces, kontinue_controller.traces_file)

    wait_for("left to finish", lambda: _of(spans(), "execution ", left), timeout=60)
    wait_for(
        "right's first store span",
        lambda: [s for s in _of(spans(), "step ", right) if s["end_time"]],
        timeout=60,
    )
    first.kill()  # right waits between its steps; the root waits for right
    start_worker("obs_flows", path=FLOWS, lease_duration=3, name="obs-2", env=env)
    go.touch()
    assert client.wait(root, timeout=90)["status"]["phase"] == "Completed"
    wait_for("the root's execution span", lambda: _of(spans(), "execution ", root), timeout=10)

    objects = {name: client.get(name) for name in (root, left, right)}
    uid = objects[root]["metadata"]["uid"]
    trace_id = f"{trace_ids.root_trace_id(uid):032x}"
    assert trace_id == uid.replace("-", "")
    mine = [s for s in spans() if s["attributes"].get("kontinue.execution") in objects]
    assert {s["trace_id"] for s in mine} == {trace_id}  # one trace for the whole tree
    by_id = {s["span_id"]: s for s in mine}
    assert len(by_id) == len(mine)  # no span twice
    roots = [s for s in mine if s["parent_span_id"] is None]
    assert [s["name"] for s in roots] == ["execution obs-tree"]
    orphans = [s["name"] for s in mine if s["parent_span_id"] and s["parent_span_id"] not in by_id]
    assert not orphans

    # the execution spans form the execution tree
    executions = {
        s["attributes"]["kontinue.execution"]: s for s in mine if s["name"].startswith("execution ")
    }
    assert set(executions) == set(objects)
    for name, obj in objects.items():
        parent = (obj["metadata"].get("labels") or {}).get(labels.PARENT)
        span_parent = by_id.get(executions[name]["parent_span_id"] or "")
        assert (span_parent["attributes"]["kontinue.execution"] if span_parent else None) == parent
        assert executions[name]["attributes"]["kontinue.namespace"] == namespace
    for child in (left, right):
        annotation = objects[child]["metadata"]["annotations"][labels.TRACEPARENT]
        assert annotation == f"00-{trace_id}-{executions[root]['span_id']}-01"

    # one attempt span per claim, under its execution; the killed claims end as taken over
    for name, claims in ((root, 2), (left, 1), (right, 2)):
        attempts = sorted(
            _of(mine, "attempt ", name), key=lambda s: s["attributes"]["kontinue.claim"]
        )
        assert [a["attributes"]["kontinue.claim"] for a in attempts] == list(range(1, claims + 1))
        assert objects[name]["status"]["claim"] == claims
        assert {a["parent_span_id"] for a in attempts} == {executions[name]["span_id"]}
        if claims == 2:
            lost, resumed = attempts
            assert lost["status"] == "ERROR" and "taken over" in lost["status_description"]
            assert lost["attributes"]["kontinue.worker"] == "obs-1"
            assert lost["service"] == "kontinue-controller"
            assert resumed["status"] == "UNSET"
            assert resumed["attributes"]["kontinue.worker"] == "obs-2"
            assert resumed["attributes"]["kontinue.resumptions"] == 1

    # steps hang under the claim that ran them; a replay does not repeat the finished ones
    def steps(name: str) -> list[tuple[int, str, str]]:
        found = []
        for s in _of(mine, "step ", name):
            attempt = by_id[s["parent_span_id"]]
            found.append(
                (
                    attempt["attributes"]["kontinue.claim"],
                    s["name"],
                    s["attributes"]["kontinue.step.name"],
                )
            )
        return sorted(found)

    assert steps(root) == [(1, "step execute", "left"), (1, "step execute", "right")]
    assert steps(left) == [(1, "step store", "store-1"), (1, "step store", "store-2")]
    assert steps(right) == [(1, "step store", "store-1"), (2, "step store", "store-2")]
    step = _of(mine, "step ", right)[0]
    assert step["attributes"]["kontinue.step.type"] == "store"
    assert step["attributes"]["kontinue.namespace"] == namespace
    assert step["attributes"]["kontinue.attempt"] == 1
    assert step["attributes"]["kontinue.function"] == "obs-leaf"

    controller = _samples(_scrape(kontinue_controller.metrics_url))
    assert _value(controller, "kontinue_lease_takeovers_total", namespace=namespace) == 2


def test_errors_are_recorded_on_spans_and_json_logs_carry_the_ids(
    client: Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    traces = tmp_path / "traces.jsonl"
    worker = start_worker(
        "obs_flows", path=FLOWS, env=trace_file_env(traces), extra=("--log-format", "json")
    )
    name = client.create_execution(
        "obs-fails", options=ExecuteOptions(retry=RetryOptions(retries=0))
    )["metadata"]["name"]
    assert client.wait(name, timeout=60)["status"]["phase"] == "Failed"
    wait_for("the execution span", lambda: _of(_spans(traces), "execution ", name), timeout=10)
    spans = _spans(traces)
    (step,) = _of(spans, "step ", name)
    (attempt,) = _of(spans, "attempt ", name)
    (execution,) = _of(spans, "execution ", name)
    assert step["status"] == "ERROR"
    assert step["attributes"]["kontinue.step.outcome"] == "failed"
    (event,) = step["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.message"] == "the disk is full"
    assert attempt["status"] == "ERROR" and "the disk is full" in attempt["status_description"]
    assert execution["status"] == "ERROR"
    assert execution["attributes"]["kontinue.phase"] == "Failed"
    assert execution["attributes"]["kontinue.error.kind"] == "execution"

    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    (failed,) = [line for line in lines if line.get("execution") == name]
    assert "attempt failed" in failed["message"]
    assert failed["trace_id"] == execution["trace_id"]
    assert failed["span_id"] == attempt["span_id"]  # logged within the attempt
    assert failed["function"] == "obs-fails" and failed["namespace"] == client.namespace


# -- dashboards --------------------------------------------------------------------------------


def _panels(node: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for panel in node.get("panels") or []:
        yield panel
        yield from _panels(panel)


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """Every PromQL query: the panels' targets and the template variables' queries."""
    panels = [
        (panel.get("title", ""), target["expr"])
        for panel in _panels(dashboard)
        for target in panel.get("targets") or []
        if target.get("expr")
    ]
    variables = [
        (f"${variable['name']}", variable["definition"])
        for variable in (dashboard.get("templating") or {}).get("list") or []
        if variable.get("type") == "query"
    ]
    return panels + variables


def test_the_ui_adds_up_its_workers_request_metrics(start_ui: StartUi) -> None:
    port = free_port()
    ui = start_ui("--workers", "2", "--metrics-port", str(port))
    for _ in range(12):  # spread over both gunicorn workers
        assert ui.get("/executions")[0] == 200
    assert ui.get("/executions/elsewhere/x")[0] == 404  # a namespace it does not serve
    samples = _samples(_scrape(f"http://127.0.0.1:{port}/metrics"))
    wanted = {"method": "GET", "route": "/executions", "status": "200"}
    assert _value(samples, "kontinue_ui_request_duration_seconds_count", **wanted) == 12
    assert _value(samples, "kontinue_ui_request_duration_seconds_bucket", le="+Inf", **wanted) == 12
    assert _value(samples, "kontinue_ui_request_duration_seconds_sum", **wanted) > 0
    not_served = {"method": "GET", "route": "/executions/<namespace>/<name>", "status": "404"}
    assert _value(samples, "kontinue_ui_request_duration_seconds_count", **not_served) == 1
    paths = {dict(labels).get("route") for (name, labels) in samples}
    assert "/executions/elsewhere/x" not in paths  # routes, never raw paths
    assert ui.process.log().count("Booting worker") == 2  # the counts above add up both


def test_every_dashboard_query_names_exported_metrics(
    client: Client,
    start_worker: StartWorker,
    start_ui: StartUi,
    kontinue_controller: SessionController,
) -> None:
    ui_port = free_port()
    ui = start_ui("--metrics-port", str(ui_port))
    assert ui.get("/executions")[0] == 200
    port = free_port()
    start_worker("obs_flows", path=FLOWS, hold=1, metrics_port=port)
    names = [
        client.create_execution("obs-quick")["metadata"]["name"],
        client.create_execution("obs-sleeper", {"seconds": 1})["metadata"]["name"],
        client.create_execution("obs-fails")["metadata"]["name"],
    ]
    _run_all(client, names)
    exported = (
        _exposed_names(_scrape(_worker_url(port)))
        | _exposed_names(_scrape(kontinue_controller.metrics_url))
        | _exposed_names(_scrape(f"http://127.0.0.1:{ui_port}/metrics"))
    )
    files = sorted(DASHBOARDS.glob("*.json"))
    assert {f.stem for f in files} >= {
        "kontinue-overview",
        "kontinue-functions",
        "kontinue-controller",
    }
    uids = set()
    for path in files:
        dashboard = json.loads(path.read_text())
        uids.add(dashboard["uid"])
        queries = _queries(dashboard)
        assert queries, f"{path.name} has no queries"
        for title, expr in queries:
            used = set(re.findall(r"\bkontinue_[a-z0-9_]+", expr))
            assert used, f"{path.name}: panel {title!r} queries no kontinue metric: {expr}"
            missing = used - exported
            assert not missing, f"{path.name}: panel {title!r} queries {missing}: {expr}"
    assert len(uids) == len(files)


def test_the_chart_ships_the_dashboards_for_grafanas_sidecar(kube_cluster: TestCluster) -> None:
    chart = ROOT / "charts" / "kontinue"
    helm = str(kube_cluster.bin_dir / "helm")
    off = subprocess.run(
        [helm, "template", "k", str(chart)], capture_output=True, text=True, check=True
    )
    assert "grafana_dashboard" not in off.stdout
    rendered = subprocess.run(
        [helm, "template", "k", str(chart), "--set", "grafana.dashboards.enabled=true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (config_map,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "ConfigMap"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = {p.name: json.loads(p.read_text()) for p in DASHBOARDS.glob("*.json")}
    assert {k: json.loads(v) for k, v in config_map["data"].items()} == files
