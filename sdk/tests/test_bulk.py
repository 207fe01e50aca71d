"""The pure parts of bulk actions: phases from --phase, eligibility, the report's order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kontinue.api.phases import Phase
from kontinue.client import bulk
from kontinue.client.bulk import Result, Selection, Skip


def _execution(name: str, phase: str | None, function: str = "f") -> dict[str, Any]:
    status = {"phase": phase} if phase else {}
    return {"metadata": {"namespace": "ns", "name": name}, "spec": {"function": function},
            "status": status}  # fmt: skip


def test_phases_are_read_repeated_or_comma_separated_in_any_case() -> None:
    assert bulk.parse_phases(["executing,Suspended", "PENDING", "Executing"]) == (
        Phase.EXECUTING, Phase.SUSPENDED, Phase.PENDING,
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown phase 'Runing': one of Pending, Executing"):
        bulk.parse_phases(["Runing"])


def test_a_selection_matches_function_and_phase_and_refuses_clashes() -> None:
    chosen = Selection(functions=("f",), phases=(Phase.PENDING,))
    assert chosen.matches(_execution("a", None))  # no phase yet: Pending
    assert not chosen.matches(_execution("b", "Executing"))
    assert not chosen.matches(_execution("c", None, function="g"))
    with pytest.raises(ValueError, match="not of every namespace"):
        Selection(names=("a",), all_namespaces=True)
    with pytest.raises(ValueError, match="names or by a label selector"):
        Selection(names=("a",), label_selector="x=y")


def test_run_reports_in_selection_order_and_maps_each_end() -> None:
    executions = [_execution(n, p) for n, p in
                  [("done", "Executing"), ("old", "Completed"), ("gone", "Pending"),
                   ("bad", "Suspended")]]  # fmt: skip

    def act(execution: Mapping[str, Any]) -> str:
        name = execution["metadata"]["name"]
        if name == "gone":
            raise Skip("deleted meanwhile")
        if name == "bad":
            raise RuntimeError("boom")
        return "acted"

    report = bulk.run("cancel", executions, act, bulk.unfinished, workers=100)
    assert [(o.name, o.result, o.detail) for o in report.outcomes] == [
        ("done", Result.DONE, "acted"),
        ("old", Result.SKIPPED, "already finished (Completed)"),
        ("gone", Result.SKIPPED, "deleted meanwhile"),
        ("bad", Result.FAILED, "boom"),
    ]
    assert not report.ok and report.summary() == "cancel: 1 done, 2 skipped, 1 failed"
    dry = bulk.run("cancel", executions, act, bulk.unfinished, dry_run=True)
    assert [o.result for o in dry.outcomes] == [Result.PLANNED, Result.SKIPPED] + [
        Result.PLANNED
    ] * 2
    assert bulk.retryable(_execution("x", "Failed")) is None
    assert bulk.retryable(_execution("y", "Completed")) is not None
