"""Parent-close policies end to end: real workers, the real controller, the real API server."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kontinue.api import labels, names
from kontinue.api.phases import Phase, execution_phase
from kontinue.client import Client, kubeapi
from kontinue.workflow import ExecuteOptions, RetryOptions, TimeoutOptions
from kontinue_testkit.pytest_plugin import SessionController, StartWorker, wait_for

FLOWS = Path(__file__).parent / "workflows"


def _child(client: Client, parent: str) -> dict[str, Any]:
    return client.get(names.child_name(parent, "child"))


def _phase(client: Client, name: str) -> Phase | None:
    found = client.kube.get_or_none(kubeapi.EXECUTIONS, client.namespace, name)
    return None if found is None else execution_phase(found)


def _child_phase(client: Client, parent: str) -> Phase | None:
    return _phase(client, names.child_name(parent, "child"))


def _is(client: Client, name: str, phase: Phase) -> bool:
    return _phase(client, name) == phase


def _child_is(client: Client, parent: str, phase: Phase) -> Callable[[], bool]:
    return lambda: _child_phase(client, parent) == phase


def _parent(client: Client, name: str, **arguments: Any) -> str:
    return str(client.create_execution("close-parent", arguments, name=name)["metadata"]["name"])


def test_each_policy_when_the_parent_completes_or_fails(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("close_flows", path=FLOWS, hold=0)
    nap = {"child": "close-nap", "arguments": {"seconds": 3}}
    cases: dict[str, dict[str, Any]] = {
        "abandon-complete": {"policy": "abandon"},
        "default-complete": {},
        "cancel-complete": {"policy": "cancel"},
        "abandon-fail": {"policy": "abandon", "outcome": "fail"},
        "cancel-fail": {"policy": "cancel", "outcome": "fail"},
        "wait-complete": {"policy": "wait", **nap},
        "wait-fail": {"policy": "wait", "outcome": "fail", **nap},
        "wait-child-fails": {
            "policy": "wait", "child": "close-nap", "arguments": {"seconds": 2, "fail": True},
        },
    }  # fmt: skip
    for name, arguments in cases.items():
        _parent(client, name, **arguments)
    ended = {name: client.wait(name, timeout=90) for name in cases}
    for name in cases:
        expected = Phase.FAILED if "-fail" in name and "child" not in name else Phase.COMPLETED
        assert execution_phase(ended[name]) == expected, (name, ended[name]["status"])

    # cancel: the running child is canceled once its parent ended, whichever way
    for name in ("cancel-complete", "cancel-fail"):
        wait_for(f"{name}'s child canceled", _child_is(client, name, Phase.CANCELED))
        assert _child(client, name)["spec"]["parentClosePolicy"] == "Cancel"
    # abandon (stated or by default): the child goes on
    time.sleep(2)  # time for a wrong cancellation to show
    for name in ("abandon-complete", "default-complete", "abandon-fail"):
        child = _child(client, name)
        assert execution_phase(child) == Phase.SUSPENDED, (name, child["status"])
        assert not child["spec"].get("cancel")
    assert "parentClosePolicy" not in _child(client, "default-complete")["spec"]
    # wait: the parent ended only after its child, with its own outcome
    for name, child_phase in (
        ("wait-complete", Phase.COMPLETED), ("wait-fail", Phase.COMPLETED),
        ("wait-child-fails", Phase.FAILED),
    ):  # fmt: skip
        child = _child(client, name)
        assert execution_phase(child) == child_phase, (name, child["status"])
        assert child["status"]["finishedAt"] <= ended[name]["status"]["finishedAt"]
    assert ended["wait-child-fails"]["status"]["result"] == "parent done"
    assert "child gave up" in _child(client, "wait-child-fails")["status"]["error"]["message"]


def test_canceling_the_parent_cancels_its_children_whatever_their_policy(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("close_flows", path=FLOWS, hold=0)
    for policy in ("abandon", "cancel", "wait"):
        _parent(client, f"held-{policy}", policy=policy, outcome="suspend")
    for policy in ("abandon", "cancel", "wait"):
        name = f"held-{policy}"
        wait_for(f"{name} waiting", functools.partial(_is, client, name, Phase.SUSPENDED))
        wait_for(f"{name}'s child waiting", _child_is(client, name, Phase.SUSPENDED))
        client.cancel(name)
    for policy in ("abandon", "cancel", "wait"):
        name = f"held-{policy}"
        assert execution_phase(client.wait(name, timeout=60)) == Phase.CANCELED
        wait_for(f"{name}'s child canceled", _child_is(client, name, Phase.CANCELED))


def test_an_attempt_timeout_cancels_the_attempts_cancel_children(
    client: Client, start_worker: StartWorker
) -> None:
    start_worker("close_flows", path=FLOWS, hold=0)
    options = ExecuteOptions(
        timeout=TimeoutOptions(attempt="2s"), retry=RetryOptions(retries=1, backoff="8s")
    )
    for policy in ("cancel", "abandon"):
        client.create_execution(
            "close-slow-parent", {"policy": policy, "hang": 6}, options, name=f"slow-{policy}"
        )
    wait_for(
        "the cancel child canceled", lambda: _phase(client, "slow-cancel--child") == "Canceled"
    )
    # canceled when the attempt timed out, not when the parent ended: it is still in Backoff
    parent = client.get("slow-cancel")
    assert execution_phase(parent) == Phase.BACKOFF, parent["status"]
    assert parent["status"]["attempts"][0]["error"]["kind"] == "timeout"
    for policy in ("cancel", "abandon"):
        done = client.wait(f"slow-{policy}", timeout=90)
        assert execution_phase(done) == Phase.COMPLETED, done["status"]
        assert len(done["status"]["attempts"]) == 2
    assert _phase(client, "slow-abandon--child") == Phase.SUSPENDED


def test_a_restarted_controller_cancels_and_leaves_planted_children_alone(
    client: Client, start_worker: StartWorker, kontinue_controller: SessionController
) -> None:
    start_worker("close_flows", path=FLOWS, hold=0)
    kontinue_controller.kill()
    try:
        parent = client.create_execution("close-parent", {"policy": "cancel"}, name="restarted")
        uid = parent["metadata"]["uid"]
        child = "restarted--child"
        # objects planted in the namespace that claim to be its children
        # (an owner reference to a uid that does not exist is collected by Kubernetes itself)
        planted = {
            "planted-no-owner": (None, uid, True),
            "planted-not-controller": (uid, uid, False),
            "planted-other-parent-uid": (uid, "00000000-0000-4000-8000-00000000beef", True),
        }
        for name, (owner, spec_uid, controls) in planted.items():
            metadata: dict[str, Any] = {
                "name": name, "labels": {labels.PARENT: "restarted", labels.ROOT: "restarted"},
            }  # fmt: skip
            if owner:
                metadata["ownerReferences"] = [{
                    "apiVersion": "kontinue.cloud/v1alpha1", "kind": "Execution",
                    "name": "restarted", "uid": owner, "controller": controls,
                }]  # fmt: skip
            client.kube.create(kubeapi.EXECUTIONS, client.namespace, {
                "apiVersion": "kontinue.cloud/v1alpha1", "kind": "Execution",
                "metadata": metadata,
                "spec": {
                    "function": "nobody-serves-this", "root": "restarted",
                    "parent": {"name": "restarted", "uid": spec_uid, "step": "child"},
                    "parentClosePolicy": "Cancel",
                },
            })  # fmt: skip
        assert execution_phase(client.wait("restarted", timeout=60)) == Phase.COMPLETED
        wait_for("the child waiting", lambda: _phase(client, child) == Phase.SUSPENDED)
        time.sleep(1)
        assert not client.get(child)["spec"].get("cancel")  # nobody acted while it was down
    finally:
        kontinue_controller.restart()
    wait_for("the child canceled", lambda: _phase(client, child) == Phase.CANCELED, timeout=60)
    time.sleep(2)  # time for a wrong cancellation to show
    for name in planted:
        obj = client.get(name)
        assert not obj["spec"].get("cancel"), name
        assert execution_phase(obj) != Phase.CANCELED, name
