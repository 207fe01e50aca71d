"""Replays of recorded histories against changed code, and the patching API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import kontinue
from kontinue import errors
from kontinue.api import history as history_format
from kontinue.api.phases import Phase
from kontinue.cli._app import cli
from kontinue.engine.journal import Journal
from kontinue.engine.observer import StepObserver
from kontinue.engine.registry import FunctionRegistry
from kontinue.engine.run import run_attempt
from kontinue.testing import (
    HistoryError,
    HistoryJournal,
    MemoryJournal,
    WorkflowEnvironment,
    replay,
    replay_folder,
)

SIDE_EFFECTS: list[str] = []


def _effect(name: str) -> str:
    SIDE_EFFECTS.append(name)
    return name


def original(ktx: kontinue.ExecutionContext) -> list[Any]:
    a = kontinue.store_named(ktx, kontinue.StoreOptions(name="a"), lambda: _effect("a"))
    child = kontinue.execute(ktx, "child", {"n": 1}, kontinue.ExecuteOptions(name="c"))
    b = kontinue.store_named(ktx, kontinue.StoreOptions(name="b"), lambda: _effect("b"))
    return [a, child, b]


def reordered(ktx: kontinue.ExecutionContext) -> list[Any]:
    b = kontinue.store_named(ktx, kontinue.StoreOptions(name="b"), lambda: _effect("b"))
    a = kontinue.store_named(ktx, kontinue.StoreOptions(name="a"), lambda: _effect("a"))
    child = kontinue.execute(ktx, "child", {"n": 1}, kontinue.ExecuteOptions(name="c"))
    return [a, child, b]


def appended(ktx: kontinue.ExecutionContext) -> list[Any]:
    result = original(ktx)
    kontinue.store_named(ktx, kontinue.StoreOptions(name="d"), lambda: _effect("d"))
    return result


def inserted_unpatched(ktx: kontinue.ExecutionContext) -> list[Any]:
    a = kontinue.store_named(ktx, kontinue.StoreOptions(name="a"), lambda: _effect("a"))
    kontinue.store_named(ktx, kontinue.StoreOptions(name="audit"), lambda: _effect("audit"))
    child = kontinue.execute(ktx, "child", {"n": 1}, kontinue.ExecuteOptions(name="c"))
    b = kontinue.store_named(ktx, kontinue.StoreOptions(name="b"), lambda: _effect("b"))
    return [a, child, b]


def inserted_patched(ktx: kontinue.ExecutionContext) -> list[Any]:
    a = kontinue.store_named(ktx, kontinue.StoreOptions(name="a"), lambda: _effect("a"))
    if kontinue.patched(ktx, "add-audit"):
        kontinue.store_named(ktx, kontinue.StoreOptions(name="audit"), lambda: _effect("audit"))
    child = kontinue.execute(ktx, "child", {"n": 1}, kontinue.ExecuteOptions(name="c"))
    b = kontinue.store_named(ktx, kontinue.StoreOptions(name="b"), lambda: _effect("b"))
    return [a, child, b]


def inserted_deprecated(ktx: kontinue.ExecutionContext) -> list[Any]:
    a = kontinue.store_named(ktx, kontinue.StoreOptions(name="a"), lambda: _effect("a"))
    kontinue.deprecate_patch(ktx, "add-audit")
    kontinue.store_named(ktx, kontinue.StoreOptions(name="audit"), lambda: _effect("audit"))
    child = kontinue.execute(ktx, "child", {"n": 1}, kontinue.ExecuteOptions(name="c"))
    b = kontinue.store_named(ktx, kontinue.StoreOptions(name="b"), lambda: _effect("b"))
    return [a, child, b]


VERSIONS = {
    fn.__name__: kontinue.function("order", registry=FunctionRegistry())(fn)
    for fn in (original, reordered, appended, inserted_unpatched, inserted_patched,
               inserted_deprecated)
}  # fmt: skip


def _definition(version: str) -> Any:
    return getattr(VERSIONS[version], "__kontinue_function__")  # noqa: B009 - set by @function


def _completed_history(version: str = "original") -> dict[str, Any]:
    """Run ``version`` to its end with the in-memory journal and export its history."""
    journal = MemoryJournal(name="order-1", spec={"function": "order"})
    assert run_attempt(_definition(version), journal, hold=0).kind == "released"
    journal.finish_child("order-1--c", Phase.COMPLETED, result={"ok": True})
    outcome = run_attempt(_definition(version), journal, hold=0)
    assert outcome.kind == "completed", outcome
    journal.execution()["status"].update(phase="Completed", result=outcome.result)
    return journal.history()


@pytest.fixture(autouse=True)
def _no_effects() -> None:
    SIDE_EFFECTS.clear()


def test_the_unchanged_code_replays_without_side_effects() -> None:
    history = _completed_history()
    SIDE_EFFECTS.clear()
    result = replay(history, VERSIONS["original"])
    assert result.compatible, result.message
    assert (result.outcome, result.replayed, result.recorded) == ("completed", 3, 3)
    assert "the recorded result" in result.message
    assert SIDE_EFFECTS == []


def test_a_changed_step_order_fails_naming_the_step() -> None:
    result = replay(_completed_history(), VERSIONS["reordered"])
    assert not result.compatible
    assert isinstance(result.error, errors.NondeterminismError)
    assert "'b'" in result.message and "'a'" in result.message and "#0" in result.message


def test_a_step_appended_after_the_last_recorded_one_passes_and_stops_there() -> None:
    history = _completed_history()
    SIDE_EFFECTS.clear()
    result = replay(history, VERSIONS["appended"])
    assert result.compatible, result.message
    assert result.outcome == "past-history"
    assert result.message.startswith("replayed 3 steps, the code goes on past the history")
    assert "'d'" in result.message
    assert SIDE_EFFECTS == []  # the new store function did not run


def test_an_inserted_step_fails_unless_it_is_behind_patched() -> None:
    history = _completed_history()
    SIDE_EFFECTS.clear()
    bad = replay(history, VERSIONS["inserted_unpatched"])
    assert not bad.compatible and "'audit'" in bad.message
    good = replay(history, VERSIONS["inserted_patched"])
    assert good.compatible, good.message
    assert good.outcome == "completed"
    assert SIDE_EFFECTS == []


def test_patched_records_a_marker_for_new_executions_and_replays_it() -> None:
    history = _completed_history("inserted_patched")
    steps = history_format.parse(history).steps
    assert steps["patch-add-audit"]["type"] == "patch"
    assert steps["patch-add-audit"]["index"] == 1
    assert steps["audit"]["index"] == 2
    assert SIDE_EFFECTS.count("audit") == 1
    assert replay(history, VERSIONS["inserted_patched"]).compatible
    # the marker without the patched() call: the step at #1 differs
    assert not replay(history, VERSIONS["inserted_unpatched"]).compatible
    # deprecate_patch accepts the marker, and its absence
    assert replay(history, VERSIONS["inserted_deprecated"]).compatible
    assert replay(
        _completed_history("inserted_deprecated"), VERSIONS["inserted_deprecated"]
    ).compatible


def test_the_marker_costs_no_write_of_its_own() -> None:
    plain, patched = (
        MemoryJournal(name="order-1", spec={"function": "order"}),
        MemoryJournal(name="order-1", spec={"function": "order"}),
    )
    run_attempt(_definition("inserted_unpatched"), plain, hold=0)
    run_attempt(_definition("inserted_patched"), patched, hold=0)
    assert patched.writes == plain.writes
    assert "patch-add-audit" in patched.execution()["status"]["steps"]


def test_patched_answers_the_same_twice_and_refuses_a_bad_change_id() -> None:
    registry = FunctionRegistry()
    answers: list[bool] = []

    @kontinue.function("twice", registry=registry)
    def twice(ktx: kontinue.ExecutionContext) -> None:
        answers.extend([kontinue.patched(ktx, "x"), kontinue.patched(ktx, "x")])
        kontinue.patched(ktx, "Not_Valid")

    outcome = run_attempt(twice.__kontinue_function__, MemoryJournal(), hold=0)  # type: ignore[attr-defined]
    assert answers == [True, True]
    assert isinstance(outcome.error, errors.ValidationError)


def test_a_waiting_history_replays_up_to_the_wait() -> None:
    journal = MemoryJournal(name="order-1", spec={"function": "order"})
    run_attempt(_definition("original"), journal, hold=0)
    result = replay(journal.history(), VERSIONS["original"])
    assert result.compatible and result.outcome == "waiting", result.message


def test_returning_before_the_recorded_steps_end_fails() -> None:
    registry = FunctionRegistry()

    @kontinue.function("order", registry=registry)
    def shorter(ktx: kontinue.ExecutionContext) -> None:
        kontinue.store_named(ktx, kontinue.StoreOptions(name="a"), lambda: "a")

    result = replay(_completed_history(), shorter)
    assert not result.compatible and "'c'" in result.message


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "expected a JSON object"),
        ({"kind": "Other", "version": 1}, "kind"),
        ({"kind": "KontinueHistory", "version": 9}, "newer kontinue"),
        ({"kind": "KontinueHistory", "version": 1, "exportedAt": "2026-01-01T00:00:00Z"},
         "execution"),
    ],
)  # fmt: skip
def test_a_bad_history_is_refused_clearly(document: Any, problem: str) -> None:
    with pytest.raises(HistoryError, match=problem):
        replay(document, VERSIONS["original"])


def test_a_bad_step_record_is_named() -> None:
    history = _completed_history()
    history["execution"]["status"]["steps"]["a"]["index"] = "zero"
    with pytest.raises(HistoryError, match=r"execution\.status\.steps\.a\.index"):
        replay(history, VERSIONS["original"])


def test_replay_folder_replays_every_history(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(_completed_history()))
    (tmp_path / "two.json").write_text(json.dumps(_completed_history("inserted_patched")))
    registry = FunctionRegistry()
    registry.add(_definition("inserted_patched"))
    assert [r.compatible for r in replay_folder(tmp_path, registry)] == [True, True]
    registry = FunctionRegistry()
    registry.add(_definition("reordered"))
    with pytest.raises(AssertionError, match="2 of 2 histories do not replay"):
        replay_folder(tmp_path, registry)


# -- the CLI --------------------------------------------------------------------------------------

MODULE = """
import kontinue

@kontinue.function("{name}")
def order(ktx):
    a = kontinue.store_named(ktx, kontinue.StoreOptions(name="a"), lambda: "a")
    {extra}
    child = kontinue.execute(ktx, "child", {{"n": 1}}, kontinue.ExecuteOptions(name="c"))
    b = kontinue.store_named(ktx, kontinue.StoreOptions(name="b"), lambda: "b")
    return [a, child, b]
"""


def _cli_replay(tmp_path: Path, name: str, extra: str, history: str) -> Any:
    (tmp_path / f"{name}.py").write_text(MODULE.format(extra=extra, name=name.replace("_", "-")))
    return CliRunner().invoke(
        cli,
        ["replay", history, "-m", name, "--path", str(tmp_path), "-f", name.replace("_", "-")],
    )


def test_cli_replay_exit_codes(tmp_path: Path) -> None:
    history = tmp_path / "h.json"
    history.write_text(history_format.dumps(_completed_history()))
    ok = _cli_replay(tmp_path, "wf_same", "pass", str(history))
    assert ok.exit_code == 0, ok.output
    assert "compatible" in ok.output
    bad = _cli_replay(
        tmp_path, "wf_new_step", 'kontinue.store_named(ktx, kontinue.StoreOptions(name="x"), '
        'lambda: 1)', str(history),
    )  # fmt: skip
    assert bad.exit_code == 1
    assert "'x'" in bad.output
    patched = _cli_replay(
        tmp_path, "wf_patched", 'kontinue.patched(ktx, "x") and kontinue.store_named(ktx, '
        'kontinue.StoreOptions(name="x"), lambda: 1)', str(history),
    )  # fmt: skip
    assert patched.exit_code == 0, patched.output
    (tmp_path / "bad.json").write_text("{not json")
    unreadable = _cli_replay(tmp_path, "wf_same2", "pass", str(tmp_path / "bad.json"))
    assert unreadable.exit_code == 2
    assert "not JSON" in unreadable.output
    missing = CliRunner().invoke(cli, ["replay", str(history), "--module", "no_such_module_x"])
    assert missing.exit_code == 2


def test_a_job_step_replays_its_recorded_outcome_and_logs() -> None:
    registry = FunctionRegistry()

    @kontinue.function("job", registry=registry)
    def job(ktx: kontinue.ExecutionContext) -> str:
        pod = kontinue.run_script(ktx, kontinue.ScriptOptions(image="busybox", command="echo hi"))
        return pod.logs(ktx).strip()

    definition = getattr(job, "__kontinue_function__")  # noqa: B009 - set by @function
    journal = MemoryJournal(name="j", spec={"function": "job"})
    assert run_attempt(definition, journal, hold=0).kind == "released"
    journal.finish_job("j--script-1", exit_codes={"script": 0}, logs="hi\n")
    outcome = run_attempt(definition, journal, hold=0)
    assert outcome.result == "hi"
    journal.execution()["status"].update(phase="Completed", result=outcome.result)
    history = journal.history()
    typed: Journal = HistoryJournal(history_format.parse(history))  # the Journal protocol
    observer: StepObserver = HistoryJournal(history_format.parse(history))  # and the observer
    assert typed.name == "j" and observer is not None
    result = replay(history, job)
    assert result.compatible and "the recorded result" in result.message, result.message
    without_logs = {**history, "jobs": [{**history["jobs"][0], "logs": {}}]}
    result = replay(without_logs, job)
    assert not result.compatible and "holds no logs" in result.message


def test_patched_in_the_workflow_environment_records_its_marker() -> None:
    registry = FunctionRegistry()
    registry.add(_definition("inserted_patched"))

    @kontinue.function("child", registry=registry)
    def child(ktx: kontinue.ExecutionContext, args: Any) -> Any:
        return args

    env = WorkflowEnvironment(registry=registry)
    run = env.start("order")
    assert run.result() == ["a", {"n": 1}, "b"]
    assert [(s.name, s.type) for s in run.steps][:3] == [
        ("a", "store"), ("patch-add-audit", "patch"), ("audit", "store"),
    ]  # fmt: skip


def test_a_history_that_ends_inside_a_running_poll_stops_before_its_check() -> None:
    registry = FunctionRegistry()
    checks: list[int] = []

    def check() -> bool:
        checks.append(1)
        return False

    @kontinue.function("poller", registry=registry)
    def poller(ktx: kontinue.ExecutionContext) -> None:
        kontinue.store(ktx, lambda: 1)
        kontinue.poll_until(ktx, check, interval="1h")

    journal = MemoryJournal(name="p", spec={"function": "poller"})
    definition = getattr(poller, "__kontinue_function__")  # noqa: B009 - set by @function
    assert run_attempt(definition, journal, hold=0).kind == "released"
    checks.clear()
    result = replay(journal.history(), poller)
    assert result.compatible and result.outcome == "past-history", result.message
    assert "inside step 'poll-1' (poll), which was still Running" in result.message
    assert result.replayed == 1 and checks == []  # the condition was not checked again
