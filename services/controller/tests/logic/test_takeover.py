from __future__ import annotations

from typing import Any

import pytest

from kontinue_controller.logic import takeover
from kontinue_controller.logic.takeover import Observed, Verdict


def lease(
    holder: str | None = "p1",
    renewed: str | None = "2030-01-01T10:00:00.000000Z",
    *,
    duration: int | None = 10,
    pod: str | None = "pod-a",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"holderIdentity": holder, "renewTime": renewed}
    if duration is not None:
        spec["leaseDurationSeconds"] = duration
    annotations = {takeover.POD_ANNOTATION: pod} if pod else {}
    return {"metadata": {"name": "l", "annotations": annotations}, "spec": spec}


SEEN = Observed("p1", "2030-01-01T10:00:00.000000Z", seen_at=100.0, duration=10.0, pod="pod-a")


def test_what_a_lease_says() -> None:
    assert takeover.pod_of(lease()) == "pod-a"
    assert takeover.pod_of(lease(pod=None)) == "p1"  # no annotation: the holder
    assert takeover.signature(lease()) == ("p1", "2030-01-01T10:00:00.000000Z")
    acquired = {"spec": {"holderIdentity": "p1", "acquireTime": "2030-01-01T09:00:00Z"}}
    assert takeover.signature(acquired) == ("p1", "2030-01-01T09:00:00Z")
    assert takeover.duration_of(lease(duration=30)) == 30.0
    assert takeover.duration_of(lease(duration=None)) > 0  # the default


@pytest.mark.parametrize(
    ("previous", "seen", "changed", "new_holder", "seen_at"),
    [
        (None, lease(), True, True, 200.0),  # first sight: a new holder, a renewal
        (SEEN, lease(), False, False, 100.0),  # nothing new: the old sighting stands
        (SEEN, lease(renewed="2030-01-01T10:00:02.000000Z"), True, False, 200.0),
        (SEEN, lease(holder="p2"), True, True, 200.0),  # a restarted process took it
    ],
)
def test_observe(
    previous: Observed | None,
    seen: dict[str, Any],
    changed: bool,
    new_holder: bool,
    seen_at: float,
) -> None:
    sighting = takeover.observe(previous, seen, 200.0)
    assert (sighting.changed, sighting.new_holder) == (changed, new_holder)
    assert sighting.observed.seen_at == seen_at
    assert sighting.observed.holder == takeover.signature(seen)[0]


@pytest.mark.parametrize(
    ("trouble_at", "stale_at"),
    [
        (None, 110.0),  # no API trouble: the lease duration after the renewal seen
        (95.0, 110.0),  # trouble before the renewal: its grace is over first
        (104.0, 114.0),  # trouble after it: a worker gets a whole duration to show a renewal
    ],
)
def test_time_without_the_api_server_does_not_count(
    trouble_at: float | None, stale_at: float
) -> None:
    assert takeover.stale_at(SEEN, trouble_at) == stale_at


@pytest.mark.parametrize(
    ("fresh", "now", "trouble_at", "expected"),
    [
        (lease(), 109.9, None, Verdict.WAIT),
        (lease(), 110.0, None, Verdict.STALE),
        (lease(), 500.0, None, Verdict.STALE),
        (lease(), 112.0, 104.0, Verdict.WAIT),  # blind for a while: more grace
        (lease(), 114.0, 104.0, Verdict.STALE),
        (lease(renewed="2030-01-01T10:00:05.000000Z"), 500.0, None, Verdict.RENEWED),
        (lease(holder="p2"), 500.0, None, Verdict.RENEWED),  # the watch was behind
    ],
)
def test_verdict(
    fresh: dict[str, Any], now: float, trouble_at: float | None, expected: Verdict
) -> None:
    assert takeover.verdict(SEEN, fresh, now, trouble_at) is expected


@pytest.mark.parametrize(
    ("process", "only", "keep", "expected"),
    [
        ("p1", None, None, True),  # expired: everything of the pod
        (None, None, None, True),
        ("p1", "p1", None, True),  # deleted lease of p1: p1's executions
        (None, "p1", None, True),  # and those of an unknown process
        ("p0", "p1", None, False),  # not another process's
        ("p1", None, "p2", True),  # p2 took over: the earlier process's go back
        ("p2", None, "p2", False),  # the new holder keeps its own
        (None, None, "p2", False),  # and an unknown process's
    ],
)
def test_which_executions_go_back(
    process: str | None, only: str | None, keep: str | None, expected: bool
) -> None:
    assert takeover.hands_back(process, only=only, keep=keep) is expected
