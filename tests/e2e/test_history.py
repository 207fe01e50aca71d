"""Export a real execution's history with the CLI and replay changed code against it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from kontinue.api import history as history_format
from kontinue.client import Client
from kontinue.workflow import TTLOptions
from kontinue_testkit.pytest_plugin import KONTINUE, StartWorker, TestCluster, wait_for

FLOWS = Path(__file__).parent / "workflows"

VARIANT = """
import kontinue

@kontinue.function("history-order")
def history_order(ktx):
    total = sum(kontinue.store(ktx, lambda i=i: i) for i in range(70))
    {before_child}
    doubled = kontinue.execute(ktx, "history-child", {{"n": 21}},
                               kontinue.ExecuteOptions(name="child"))
    {after_child}
    {after_sleep}
    return {{"total": total, "doubled": doubled}}
"""
SLEEP = 'kontinue.sleep_named(ktx, kontinue.SleepOptions(name="pause", duration="1s"))'
AUDIT = 'kontinue.store_named(ktx, kontinue.StoreOptions(name="audit"), lambda: 1)'
VARIANTS = {
    "unchanged": {"before_child": "", "after_child": SLEEP, "after_sleep": ""},
    "reordered": {"before_child": SLEEP, "after_child": "", "after_sleep": ""},
    "appended": {"before_child": "", "after_child": SLEEP, "after_sleep": AUDIT},
    "inserted": {"before_child": AUDIT, "after_child": SLEEP, "after_sleep": ""},
    "patched": {
        "before_child": f'if kontinue.patched(ktx, "audit"): {AUDIT}',
        "after_child": SLEEP,
        "after_sleep": "",
    },
}


def _kontinue(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    result = subprocess.run([KONTINUE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_an_exported_history_replays_against_changed_code(
    client: Client,
    start_worker: StartWorker,
    kube_cluster: TestCluster,
    namespace: str,
    tmp_path: Path,
) -> None:
    start_worker("history_flows", path=FLOWS, hold=5)
    name = client.create_execution("history-order")["metadata"]["name"]
    done = client.wait(name, timeout=120)["status"]
    assert done["phase"] == "Completed", done
    assert done["journal"]["chunks"] >= 1  # part of the history lives in journal chunks

    file = tmp_path / "history.json"
    exported = _kontinue(kube_cluster.kubeconfig, "export", name, "-n", namespace, "-o", str(file))
    assert exported.returncode == 0, exported.stderr
    document = json.loads(file.read_text())
    assert (document["kind"], document["version"]) == ("KontinueHistory", 1)
    parsed = history_format.parse(document)
    assert len(parsed.steps) == 70 + 2  # every step, from the chunks and the status
    assert document["journal"]["steps"]  # the chunks' steps are in the file
    assert [c["status"]["result"] for c in document["children"]] == [42]
    assert [s["metadata"]["name"] for s in document["suspensions"]] == [f"{name}--pause"]

    variants = tmp_path / "variants"
    variants.mkdir()
    outcomes = {}
    for variant, parts in VARIANTS.items():
        (variants / f"order_{variant}.py").write_text(VARIANT.format(**parts))
        replayed = _kontinue(
            kube_cluster.kubeconfig, "replay", str(file), "--module", f"order_{variant}",
            "--path", str(variants),
        )  # fmt: skip
        outcomes[variant] = (replayed.returncode, replayed.stdout + replayed.stderr)
    assert outcomes["unchanged"][0] == 0, outcomes["unchanged"]
    assert "replayed 72 steps" in outcomes["unchanged"][1]
    assert outcomes["reordered"][0] == 1, outcomes["reordered"]
    assert "'pause'" in outcomes["reordered"][1] and "'child'" in outcomes["reordered"][1]
    assert outcomes["appended"][0] == 0, outcomes["appended"]
    assert "replayed 72 steps, the code goes on past the history" in outcomes["appended"][1]
    assert outcomes["inserted"][0] == 1, outcomes["inserted"]
    assert "'audit'" in outcomes["inserted"][1]
    assert outcomes["patched"][0] == 0, outcomes["patched"]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**document, "version": 7}))
    refused = _kontinue(kube_cluster.kubeconfig, "replay", str(bad), "--module", "order_unchanged",
                        "--path", str(variants))  # fmt: skip
    assert refused.returncode == 2 and "newer kontinue" in refused.stderr


def test_a_patch_marker_rides_along_with_the_next_write(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster, namespace: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    plain = client.create_execution("history-plain")["metadata"]["name"]
    marked = client.create_execution("history-marked")["metadata"]["name"]
    writes = {plain: 0, marked: 0}
    finished: set[str] = set()
    watching = client.watch(timeout=90)
    next(watching)  # the watch runs before the worker starts
    start_worker("history_flows", path=FLOWS)
    for event, obj in watching:
        name = obj["metadata"]["name"]
        if name not in writes or name in finished:
            continue
        phase = (obj.get("status") or {}).get("phase")
        writes[name] += event == "MODIFIED" and phase in ("Executing", "Completed")  # the worker's
        if (obj.get("status") or {}).get("phase") == "Completed":
            finished.add(name)
        if finished == set(writes):
            break
    assert finished == set(writes)
    assert writes[marked] == writes[plain]  # the marker cost no write of its own
    steps = client.get(marked)["status"]["steps"]
    assert {n: s["index"] for n, s in steps.items()} == {
        "patch-two-stores": 0, "store-1": 1, "store-2": 2,
    }  # fmt: skip
    file = tmp_path / "marked.json"
    assert _kontinue(kube_cluster.kubeconfig, "export", marked, "-n", namespace, "-o",
                     str(file)).returncode == 0  # fmt: skip
    replayed = _kontinue(kube_cluster.kubeconfig, "replay", str(file), "--module",
                         "history_flows", "--path", str(FLOWS))  # fmt: skip
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replayed 3 steps" in replayed.stdout


def test_an_archived_execution_exports_from_its_archive(
    client: Client, start_worker: StartWorker, kube_cluster: TestCluster, namespace: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    start_worker("history_flows", path=FLOWS, hold=5)
    client.create_execution(
        "history-order", name="archived-order",
        ttl=TTLOptions(archive_after="1s", delete_after="1h"),
    )  # fmt: skip
    wait_for(
        "the archive",
        lambda: (
            [a["metadata"]["name"] for a in client.list_archives()] == ["archived-order"]
            and not client.list()
        ),
        timeout=120,
    )
    file = tmp_path / "archived.json"
    exported = _kontinue(kube_cluster.kubeconfig, "export", "archived-order", "-n", namespace,
                         "-o", str(file))  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    parsed = history_format.load(file)
    assert len(parsed.steps) == 72 and parsed.children and parsed.suspensions
    replayed = _kontinue(kube_cluster.kubeconfig, "replay", str(file), "--module",
                         "history_flows", "--path", str(FLOWS))  # fmt: skip
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replayed 72 steps; the code returns the recorded result" in replayed.stdout
