"""The CLI in a real terminal: ``--follow`` inside tmux, ``--interactive`` through a pty."""

from __future__ import annotations

import os
import shlex
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from kontinue.client import Client
from kontinue_testkit.pytest_plugin import (
    KONTINUE,
    StartWorker,
    TestCluster,
    WorkerProcess,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def examples(start_worker: StartWorker) -> WorkerProcess:
    return start_worker("kontinue_examples.all", path=ROOT / "examples")


class Tmux:
    """One detached tmux session running a shell command."""

    def __init__(self, command: str, width: int = 160) -> None:
        self.name = f"kontinue-test-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            [
                "tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", "60",
                command,
            ],
            check=True,
        )  # fmt: skip

    @classmethod
    def sized(cls, command: str, width: int) -> Tmux:
        """A session of ``width`` columns."""
        return cls(command, width)

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def until(self, predicate: Callable[[str], bool], what: str, timeout: float) -> str:
        """The screen once ``predicate`` holds for it."""
        found: str = wait_for(
            what, lambda: (lambda screen: screen if predicate(screen) else None)(self.screen()),
            timeout=timeout,
        )  # fmt: skip
        return found

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def tmux() -> Iterator[Callable[[str], Tmux]]:
    sessions: list[Tmux] = []

    def start(command: str) -> Tmux:
        session = Tmux(command)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.kill()


def _shell(kube_cluster: TestCluster, *args: str) -> str:
    line = " ".join(shlex.quote(a) for a in (KONTINUE, *args))
    return (
        f"env KUBECONFIG={shlex.quote(str(kube_cluster.kubeconfig))} {line}; "
        "echo EXIT=$?; sleep 600"
    )


def test_follow_renders_progress_steps_and_children_live(
    examples: WorkerProcess, kube_cluster: TestCluster, namespace: str, tmux: Callable[[str], Tmux]
) -> None:
    args = ("execute", "fan-out", '{"items": 10, "width": 2}', "--follow", "-n", namespace)
    session = tmux(_shell(kube_cluster, *args))
    live = session.until(
        lambda s: "-execute-" in s and "EXIT=" not in s, "the live view with children", 60
    )
    assert "fan-out" in live and "Executing" in live
    final = session.until(lambda s: "EXIT=" in s, "the end", 90)
    assert "EXIT=0" in final
    assert "10/10" in final  # the progress bar's count
    assert "━" in final  # the bar itself
    assert "Completed" in final and "285" in final  # 0² + 1² + ... + 9²
    assert "-execute-10 Completed" in final  # the last child, as a step of the tree


def test_ctrl_c_detaches_without_canceling(
    examples: WorkerProcess,
    kube_cluster: TestCluster,
    namespace: str,
    tmux: Callable[[str], Tmux],
    client: Client,
) -> None:
    args = (
        "execute", "deploy-pipeline", '{"service": "api", "environment": "production"}',
        "--name", "deploy-api", "--follow", "-n", namespace,
    )  # fmt: skip
    session = tmux(_shell(kube_cluster, *args))
    wait_for("the approval gate", lambda: "waiting for approval" in session.screen(), timeout=90)
    session.keys("C-c")
    screen = session.until(lambda s: "EXIT=" in s, "detaching", 30)
    assert "detached; deploy-api goes on" in screen and "EXIT=130" in screen
    waiting = client.get("deploy-api")
    assert waiting["status"]["phase"] in ("Executing", "Suspended")  # still waiting for approval
    assert not waiting["spec"].get("cancel")  # detaching did not cancel
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig)}
    subprocess.run(
        [KONTINUE, "resume", "deploy-api", "-n", namespace, "--data", '{"approved": true}'],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    done = client.wait("deploy-api", timeout=60)["status"]
    assert done["phase"] == "Completed" and done["result"]["approval"] == {"approved": True}


def test_interactive_prompts_from_the_argument_schema(
    examples: WorkerProcess, kube_cluster: TestCluster, namespace: str
) -> None:
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig), "COLUMNS": "160"}
    child = pexpect.spawn(
        KONTINUE,
        ["execute", "deploy-pipeline", "--interactive", "--wait", "-n", namespace],
        env=env, encoding="utf-8", timeout=60,
    )  # fmt: skip
    try:
        # each field's docstring (DeployArgs) is its help, above its prompt
        child.expect(r"# The service to deploy\.[^\n]*\nService")
        child.sendline("payments")
        child.expect(r"# The version to roll out\.[^\n]*\nVersion \[1\.0\.0\]")
        child.sendline("")  # the default
        child.expect(r"# Where to deploy\.[^\n]*\nEnvironment \(staging, production\) \[staging")
        child.sendline("prod")
        child.expect("'prod' is not one of 'staging', 'production'")
        child.expect("Environment")
        child.sendline("staging")
        child.expect(r"# Replicas per region\.[^\n]*\nReplicas \[2\]")
        child.sendline("three")
        child.expect("'three' is not a valid integer")
        child.expect("Replicas")
        child.sendline("3")
        child.expect("Completed")
        child.expect("registry.local/payments:1.0.0")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_tables_keep_names_whole_in_80_columns_and_pipe_as_plain_columns(
    examples: WorkerProcess,
    kube_cluster: TestCluster,
    namespace: str,
    tmux: Callable[[str], Tmux],
    client: Client,
) -> None:
    names = []
    for _ in range(3):
        created = client.create_execution("hello-world", {"name": "a rather long name " * 3})
        names.append(created["metadata"]["name"])
    for name in names:
        client.wait(name, timeout=60)
    session = Tmux.sized(_shell(kube_cluster, "list", "-n", namespace), 80)
    try:
        screen = session.until(lambda s: "EXIT=" in s, "the table", 30)
    finally:
        session.kill()
    lines = screen.splitlines()
    assert "EXIT=0" in screen
    for name in names:  # one line per row, the name whole, the message cut to fit
        (row,) = [line for line in lines if name in line]
        assert row.startswith(name) and "Completed" in row and "hello-world" in row
        assert len(row.rstrip()) <= 80 and "…" in row
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig)}
    piped = subprocess.run(
        f"{shlex.quote(KONTINUE)} list -n {shlex.quote(namespace)} | awk '{{print $1, $2}}'",
        shell=True, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    header, *rows = piped.stdout.splitlines()
    assert header == "NAME PHASE" and sorted(rows) == sorted(f"{n} Completed" for n in names)
    raw = subprocess.run(
        [KONTINUE, "list", "-n", namespace], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "\x1b[" not in raw and "─" not in raw and "━" not in raw  # no colours, no rules
