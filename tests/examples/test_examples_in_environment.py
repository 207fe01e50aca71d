"""Every example workflow, run in the in-process time-skipping environment (no cluster).

These are also the examples docs/testing.md quotes: they show how a workflow author tests a
workflow, its children, an approval and a crash.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kontinue_examples import deploy_pipeline, fan_out, hello_world, nightly_report

import kontinue
from kontinue.testing import WorkflowEnvironment

START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> WorkflowEnvironment:
    # the examples' stand-ins for real work sleep; a test replaces side effects with fakes
    monkeypatch.setattr(deploy_pipeline, "run_suite", lambda suite: None)
    monkeypatch.setattr(deploy_pipeline, "roll_out", lambda image, region: None)
    return WorkflowEnvironment(modules=["kontinue_examples.all"], start=START)


def test_hello_world(env: WorkflowEnvironment) -> None:
    run = env.start(hello_world.hello_world, hello_world.HelloWorldArgs(name="Ann"))

    assert run.result() == "Hello, Ann!"
    assert [(s.name, s.type, s.phase) for s in run.steps] == [("store-1", "store", "Completed")]
    assert run.stored("store-1") == "Hello, Ann!"
    assert run.messages == ["Hello, Ann!"]
    assert run.message == "Hello, Ann!"  # the workflow's own last word stays
    assert [a["phase"] for a in run.attempts] == ["Completed"]
    assert env.execute("hello-world") == "Hello, World!"  # the argument's defaults


def test_deploy_pipeline_to_staging_needs_no_approval(env: WorkflowEnvironment) -> None:
    run = env.start("deploy-pipeline", {"service": "shop", "version": "2.1.0"})

    result = run.result()

    assert result == {
        "image": "registry.local/shop:2.1.0",
        "checks": ["unit: passed", "integration: passed", "security: passed"],
        "approval": None,
    }
    assert [(s.name, s.type) for s in run.steps] == [
        ("store-1", "store"),
        ("execute-1", "execute"),
        ("execute-2", "execute"),
        ("execute-3", "execute"),
        ("store-2", "store"),
        ("store-3", "store"),
        ("store-4", "store"),
    ]
    assert [c.function for c in run.children] == ["run-checks"] * 3
    assert all(c.phase == "Completed" for c in run.children)
    assert run.progress == (6, 6)
    assert run.messages[-1] == "registry.local/shop:2.1.0 is live in 3 regions"


def test_deploy_pipeline_to_production_waits_for_the_approval(env: WorkflowEnvironment) -> None:
    run = env.start("deploy-pipeline", {"service": "shop", "environment": "production"})

    # the checks ran; now the pipeline waits for a person
    assert run.phase == "Suspended"
    assert [(w.step, w.display_name) for w in run.waiting] == [("approval", "Approve production")]
    assert run.messages == ["waiting for approval to deploy registry.local/shop:1.0.0"]
    assert run.message == "waiting for suspension 'Approve production' to be resumed"
    assert run.progress == (2, 6)

    env.resume(run, "Approve production", {"approved": True, "by": "ann"})

    assert run.result()["approval"] == {"approved": True, "by": "ann"}
    assert run.step("approval").type == "suspend"
    assert run.waiting == []
    assert run.messages == [
        "waiting for approval to deploy registry.local/shop:1.0.0",
        "rolling out to eu-west",
        "rolling out to us-east",
        "rolling out to ap-south",
        "registry.local/shop:1.0.0 is live in 3 regions",
    ]


def test_fan_out_runs_every_child(env: WorkflowEnvironment) -> None:
    run = env.start(fan_out.fan_out, fan_out.Batch(items=20, width=5))

    assert run.result() == sum(n * n for n in range(20))
    assert len(run.children) == 20
    assert [c.result() for c in run.children[:4]] == [0, 1, 4, 9]
    assert run.progress == (20, 20)
    assert [s.type for s in run.steps] == ["execute"] * 20


def test_nightly_report_survives_a_crash_after_its_store(env: WorkflowEnvironment) -> None:
    run = env.start(nightly_report.nightly_report, crash_after="store-1")

    result = run.result()

    assert env.crashes == [(run.name, "store-1")]
    assert result["report"] == "ok"
    # the replay returned the recorded value: the store did not run a second time
    assert result["ranAt"] == run.stored("store-1")
    assert run.resumptions == 1
    assert [a["phase"] for a in run.attempts] == ["Completed"]  # a crash is not a failure


@kontinue.function("report-tomorrow")
def report_tomorrow(ktx: kontinue.ExecutionContext) -> dict[str, str]:
    """Waits a day, then runs the nightly report as a child."""
    kontinue.sleep(ktx, timedelta(days=1))
    return kontinue.execute(ktx, "nightly-report")  # type: ignore[no-any-return]


def test_nightly_report_a_day_later(env: WorkflowEnvironment) -> None:
    run = env.start(report_tomorrow)
    assert run.phase == "Suspended"

    assert run.result()["report"] == "ok"
    assert env.now == START + timedelta(days=1)  # a day went by, in milliseconds
    assert [(s.name, s.type) for s in run.steps] == [("sleep-1", "sleep"), ("execute-1", "execute")]
    assert run.child("execute-1").function == "nightly-report"
