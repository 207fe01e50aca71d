"""The ``kontinue`` command driven as a user would, against the real control plane."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kontinue.api import labels
from kontinue.client import Client
from kontinue.workflow import TTLOptions
from kontinue_testkit.pytest_plugin import (
    KONTINUE,
    StartWorker,
    TestCluster,
    WorkerProcess,
    kontinue_object,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).parent / "workflows"


class Cli:
    """Runs ``kontinue`` with the test cluster's kubeconfig."""

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "COLUMNS": "200"}
        result = subprocess.run(
            [KONTINUE, *args], env=env, capture_output=True, text=True, timeout=120
        )
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)


@pytest.fixture
def cli(kube_cluster: TestCluster, namespace: str) -> Cli:
    return Cli(kube_cluster.kubeconfig, namespace)


@pytest.fixture
def hello(start_worker: StartWorker) -> WorkerProcess:
    return start_worker("kontinue_examples.hello_world", path=ROOT / "examples")


def test_execute_wait_list_show_and_functions(cli: Cli, hello: WorkerProcess) -> None:
    ns = cli.namespace
    done = cli("execute", "hello-world", '{"name": "Ada"}', "--wait", "-n", ns)
    assert "created" in done.stdout and "Completed" in done.stdout
    assert '"Hello, Ada!"' in done.stdout
    name = done.stdout.split()[0].split("/")[1]
    listed = cli("-n", ns, "list")  # connection flags before the verb work too
    assert name in listed.stdout and "Completed" in listed.stdout and "Hello, Ada!" in listed.stdout
    assert [i["metadata"]["name"] for i in cli.json("list", "-n", ns)["items"]] == [name]
    assert cli("list", "-n", ns, "-o", "name").stdout.strip() == f"execution.kontinue.cloud/{name}"
    assert cli("list", "-n", ns, "--phase", "Failed").stderr.startswith("No executions found")
    wide = cli("list", "-n", ns, "-o", "wide").stdout
    assert "WORKER" in wide and "worker-1" in wide
    shown = cli("show", name, "-n", ns).stdout
    assert "store-1" in shown and 'result: "Hello, Ada!"' in shown
    detail = cli.json("show", name, "-n", ns)
    assert detail["execution"]["status"]["result"] == "Hello, Ada!"
    assert detail["children"] == [] and detail["jobs"] == []
    assert yaml.safe_load(cli("show", name, "-n", ns, "-o", "yaml").stdout)["execution"]
    functions = cli("functions", "-n", ns).stdout
    assert "hello-world" in functions and "Greets someone" in functions
    assert cli.json("functions", "-n", ns)["items"][0]["spec"]["name"] == "hello-world"


def test_execute_without_waiting_and_as_json(
    cli: Cli, hello: WorkerProcess, client: Client
) -> None:
    created = cli.json("execute", "hello-world", "-n", cli.namespace, "--name", "greet-1")
    assert created["metadata"]["name"] == "greet-1"
    assert client.wait("greet-1", timeout=60)["status"]["result"] == "Hello, World!"
    args = Path(cli.kubeconfig).parent / "args.yaml"
    args.write_text("name: Yaml\n")
    done = cli("execute", "hello-world", "-f", str(args), "--wait", "-n", cli.namespace)
    assert '"Hello, Yaml!"' in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("execute", "no-such-fn"), "kontinue: unknown function 'no-such-fn' in group 'default'; "
         "known: hello-world"),
        (("execute", "hello-world", '{"name": 5}'),
         "kontinue: invalid arguments for hello-world: name: 5 is not of type 'string'"),
        (("execute", "hello-world", "{name"), "kontinue: the arguments are not JSON"),
        (("show", "nope"), 'kontinue: show: executions.kontinue.cloud "nope" not found'),
        (("cancel", "nope"), 'kontinue: cancel: executions.kontinue.cloud "nope" not found'),
        (("resume", "nope"), 'kontinue: resume: executions.kontinue.cloud "nope" not found'),
    ],
)  # fmt: skip
def test_errors_are_one_clear_line(
    cli: Cli, hello: WorkerProcess, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args, "-n", cli.namespace, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_cluster_and_a_forbidden_verb(
    cli: Cli, kube_cluster: TestCluster, tmp_path: Path
) -> None:
    config = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    down = tmp_path / "down.yaml"
    down.write_text(yaml.safe_dump(config))
    result = Cli(down, cli.namespace)("list", "-n", cli.namespace, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "kontinue: cannot reach the Kubernetes API at https://127.0.0.1:1"
    )
    assert "make cluster-up" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    token = kube_cluster.kubectl("create", "token", "default", "-n", cli.namespace).stdout.strip()
    config = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    config["users"][0]["user"] = {"token": token}
    limited = tmp_path / "limited.yaml"
    limited.write_text(yaml.safe_dump(config))
    result = Cli(limited, cli.namespace)("list", "-n", cli.namespace, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("kontinue: forbidden: ")
    assert 'cannot list resource "executions" in API group "kontinue.cloud"' in result.stderr


def test_resume_cancel_and_logs(cli: Cli, start_worker: StartWorker, client: Client) -> None:
    start_worker("controller_flows", path=FLOWS, hold=1)
    start_worker("job_flows", path=FLOWS, hold=1, name="jobs")
    ns = cli.namespace
    tree = cli("execute", "tree", '{"counter": "/dev/null"}', "-n", ns, "-o", "name")
    name = tree.stdout.strip().split("/")[1]
    wait_for("the approval", lambda: client.phase(name) == "Suspended", timeout=60)
    shown = cli("show", name, "-n", ns).stdout
    assert f"{name}--execute-1" in shown and "approval" in shown and "sleep until" not in shown
    canceled = cli.json("cancel", name, "-n", ns)
    assert canceled["spec"]["cancel"] is True
    assert client.wait(name, timeout=30)["status"]["phase"] == "Canceled"
    again = cli("cancel", name, "-n", ns, check=False)
    assert again.returncode == 1 and "already finished (Canceled)" in again.stderr

    sleeper = cli("execute", "sleeper", '{"seconds": 600}', "-n", ns, "-o", "name")
    sleeper_name = sleeper.stdout.strip().split("/")[1]
    wait_for("the sleep", lambda: client.phase(sleeper_name) == "Suspended", timeout=60)
    resumed = cli("resume", sleeper_name, "-n", ns, "--data", '{"by": "cli"}')
    assert resumed.stdout.strip() == f"suspension.kontinue.cloud/{sleeper_name}--sleep-1 resumed"
    assert client.wait(sleeper_name, timeout=30)["status"]["phase"] == "Completed"
    again_sleeper = cli("execute", "sleeper", '{"seconds": 600}', "-n", ns, "-o", "name")
    second = again_sleeper.stdout.strip().split("/")[1]
    wait_for("the second sleep", lambda: client.phase(second) == "Suspended", timeout=60)
    [object_resumed] = cli.json("resume", f"{second}--sleep-1", "-n", ns)["items"]
    assert object_resumed["status"]["resumedBy"] == "kontinue-admin"  # the kubeconfig's user
    none_left = cli("resume", sleeper_name, "-n", ns, check=False)
    assert none_left.returncode == 1 and "has no waiting suspension" in none_left.stderr

    printed = "booting\nerror: disk full\nbye"
    job = cli("execute", "script-with-logs", json.dumps({"printed": printed}), "--wait", "-n", ns)
    job_name = job.stdout.split()[0].split("/")[1]
    assert cli("logs", job_name, "-n", ns).stdout == printed + "\n"
    assert cli("logs", job_name, "script-1", "--tail", "1", "-n", ns).stdout == "bye\n"
    [entry] = cli.json("logs", job_name, "-n", ns)
    assert (entry["step"], entry["log"]) == ("script-1", printed + "\n")
    missing = cli("logs", job_name, "nope", "-n", ns, check=False)
    assert "has no job step 'nope' (job steps: script-1)" in missing.stderr


def test_schedules_and_archives(
    cli: Cli, start_worker: StartWorker, kube_cluster: TestCluster, client: Client
) -> None:
    start_worker("controller_flows", path=FLOWS, hold=1)
    ns = cli.namespace
    kube_cluster.create(ns, kontinue_object("ScheduledExecution", "nightly", {
        "schedule": "0 3 * * *", "function": "scheduled-task", "timeZone": "Europe/Berlin",
    }))  # fmt: skip
    listed = cli("schedules", "-n", ns).stdout
    assert "nightly" in listed and "0 3 * * *" in listed and "Europe/Berlin" in listed
    triggered = cli("schedules", "trigger", "nightly", "-n", ns).stdout.strip()
    run = triggered.split()[0].split("/")[1]
    assert run.startswith("nightly-manual-")
    done = client.wait(run, timeout=60)
    assert done["metadata"]["labels"][labels.SCHEDULE] == "nightly"
    cli("schedules", "suspend", "nightly", "-n", ns)
    assert cli.json("schedules", "-n", ns)["items"][0]["spec"]["suspend"] is True
    cli("schedules", "unsuspend", "nightly", "-n", ns)
    assert cli.json("schedules", "-n", ns)["items"][0]["spec"]["suspend"] is False

    client.create_execution(
        "small-tree", name="to-archive", ttl=TTLOptions(archive_after="1s", delete_after="1h")
    )
    wait_for("the archive", lambda: "to-archive" in cli("archives", "-n", ns).stdout, timeout=60)
    archives = cli("archives", "-n", ns).stdout
    assert "small-tree" in archives and "Completed" in archives
    assert cli.json("archives", "-n", ns)["items"][0]["spec"]["counts"]["executions"] == 3
    shown = cli("archives", "show", "to-archive", "-n", ns).stdout
    assert (
        "archive to-archive" in shown and "to-archive--execute-1" in shown and "result: 2" in shown
    )
    objects = cli.json("archives", "show", "to-archive", "-n", ns)
    assert [o["kind"] for o in objects].count("Execution") == 3


def test_bench_reports_throughput_and_latency(cli: Cli, hello: WorkerProcess) -> None:
    args = (
        "bench", "hello-world", "--qps", "20", "--duration", "2s", "-p", "name=Bench",
        "--max-concurrency", "100",  # the rate, not the default cap of 10 in flight, decides
    )  # fmt: skip
    report = cli.json(*args, "-n", cli.namespace)
    # the rate caps the creations (20/s for 2 s, plus the first); a loaded machine creates fewer
    assert 10 <= report["created"] <= 41 and report["finished"] == report["created"]
    assert report["phases"] == {"Completed": report["created"]}
    assert 0 < report["latency_p50_ms"] <= report["latency_p99_ms"] <= report["latency_max_ms"]
    assert report["throughput_per_s"] > 0
    table = cli("bench", "hello-world", "--qps", "5", "--duration", "1s", "-n", cli.namespace)
    assert "throughput_per_s" in table.stdout and "latency_p99_ms" in table.stdout
    bad = cli("bench", "hello-world", "-p", "oops", "-n", cli.namespace, check=False)
    assert bad.returncode == 1 and "-p expects key=value, got 'oops'" in bad.stderr


def test_shell_completion(cli: Cli) -> None:
    script = cli("completion", "bash").stdout
    assert "_KONTINUE_COMPLETE=bash_complete" in script
    env = {**os.environ, "_KONTINUE_COMPLETE": "bash_complete", "COMP_WORDS": "kontinue sch",
           "COMP_CWORD": "1"}  # fmt: skip
    completed = subprocess.run([KONTINUE], env=env, capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "plain,schedules"
