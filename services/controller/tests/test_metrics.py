"""The controller's duty metrics name every duty the controller schedules."""

from __future__ import annotations

import ast
from pathlib import Path

from prometheus_client import REGISTRY

from kontinue_controller import metrics

SOURCES = Path(metrics.__file__).parent


def _scheduled_duties() -> tuple[set[str], set[str]]:
    """The duty names passed to ``.at(...)`` (timed) and ``.soon(...)`` in the sources."""
    timed: set[str] = set()
    soon: set[str] = set()
    for path in SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            if node.func.attr == "at" and len(node.args) >= 3:
                timed.add(first.value)
            elif node.func.attr == "soon":
                soon.add(first.value)
    return timed, soon


def test_every_scheduled_duty_is_declared() -> None:
    timed, soon = _scheduled_duties()
    assert timed, "no timed duty found: the source scan is broken"
    assert timed <= set(metrics.TIMED_DUTIES)
    assert soon <= set(metrics.DUTIES)


def test_duty_series_exist_at_zero_before_any_timer_fires() -> None:
    for duty in metrics.TIMED_DUTIES:
        count = REGISTRY.get_sample_value(
            "kontinue_controller_timer_lateness_seconds_count", {"duty": duty}
        )
        assert count is not None, duty
    for duty in metrics.DUTIES:
        retries = REGISTRY.get_sample_value(
            "kontinue_controller_duty_retries_total", {"duty": duty}
        )
        assert retries is not None, duty
