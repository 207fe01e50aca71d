"""Interrupting or killing a test run leaves no control-plane process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TARGET = Path(__file__).parent / "targets" / "interrupted_session.py"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def _processes_under(root: Path) -> list[str]:
    """Command lines of live processes that mention ``root`` (the cluster's work directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if str(root) in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline[:160]}")
    return found


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_stopping_the_run_leaves_no_process(tmp_path: Path, how: signal.Signals) -> None:
    ready = tmp_path / "ready"
    env = {
        **os.environ,
        "KONTINUE_TEST_CLUSTER_ROOT": str(tmp_path),
        "KONTINUE_TEST_READY_FILE": str(ready),
    }
    env.pop("KONTINUE_TEST_CLUSTER_DIR", None)
    output = tmp_path / "child-output.txt"
    with output.open("wb") as sink:
        child = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TARGET)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            # Ctrl-C as in a terminal: a run started in the background of a script (CI, nohup)
            # inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler
            preexec_fn=_default_sigint,
        )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "the child session never started its cluster"
            time.sleep(0.2)
        running = _processes_under(tmp_path)
        for component in COMPONENTS:
            assert any(f"/{component} " in line for line in running), (component, running)
        child.send_signal(how)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    deadline = time.monotonic() + 15
    while _processes_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_under(tmp_path) == []
