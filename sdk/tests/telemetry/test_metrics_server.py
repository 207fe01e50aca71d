from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kontinue.telemetry import metrics_server

# A gunicorn-like worker process: multi-process mode is chosen by the environment at import.
_CHILD = """
from prometheus_client import Histogram
h = Histogram("kontinue_ui_request_duration_seconds", "d", ["method", "route", "status"])
h.labels("GET", "/executions", "200").observe(0.25)
"""


def test_port_0_disables_and_a_port_serves_the_given_registry() -> None:
    assert metrics_server.start_metrics_server(0) is None
    registry = CollectorRegistry()
    Counter("kontinue_probe", "probe", registry=registry).inc()
    port = metrics_server.start_metrics_server(_free(), addr="127.0.0.1", registry=registry)
    assert port is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert "kontinue_probe_total 1.0" in response.read().decode()


def _free() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_multiprocess_mode_adds_up_the_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "multiproc"
    directory.mkdir()
    (directory / "stale.db").write_text("left by an earlier run")
    # registered with monkeypatch, so the variable is gone again after the test
    monkeypatch.setenv(metrics_server.MULTIPROC_ENV, "")
    with pytest.raises(ValueError):
        metrics_server.prepare_multiprocess_dir()
    assert metrics_server.prepare_multiprocess_dir(directory) == directory
    assert os.environ[metrics_server.MULTIPROC_ENV] == str(directory)
    assert list(directory.iterdir()) == []
    for _ in range(2):
        subprocess.run([sys.executable, "-c", _CHILD], check=True, env=dict(os.environ))
    text = generate_latest(metrics_server.multiprocess_registry()).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    labels = (("method", "GET"), ("route", "/executions"), ("status", "200"))
    assert samples[("kontinue_ui_request_duration_seconds_count", labels)] == 2
    assert samples[("kontinue_ui_request_duration_seconds_sum", labels)] == 0.5
    metrics_server.mark_process_dead(12345)  # no such process: nothing to drop, no error
