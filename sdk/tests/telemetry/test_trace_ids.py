from __future__ import annotations

from kontinue.api import labels
from kontinue.telemetry import trace_ids

UID = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


def test_a_root_traces_under_its_uid_and_names_the_same_spans_every_time() -> None:
    root = {"metadata": {"name": "r", "uid": UID}}
    trace = trace_ids.execution_trace(root)
    assert f"{trace.trace_id:032x}" == UID.replace("-", "")
    assert trace.parent_span_id is None
    assert trace == trace_ids.execution_trace(root)
    assert trace_ids.attempt_span_id(UID, 1) == trace_ids.attempt_span_id(UID, 1)
    assert trace_ids.attempt_span_id(UID, 1) != trace_ids.attempt_span_id(UID, 2)
    assert trace.span_id not in (trace_ids.attempt_span_id(UID, 1), 0)


def test_a_child_continues_the_trace_its_annotation_names() -> None:
    parent = trace_ids.execution_trace({"metadata": {"name": "r", "uid": UID}})
    header = parent.child_traceparent()
    assert header == f"00-{parent.trace_id:032x}-{parent.span_id:016x}-01"
    child = {
        "metadata": {
            "name": "r-left",
            "uid": "00000000-0000-4000-8000-000000000001",
            "annotations": {labels.TRACEPARENT: header},
        }
    }
    trace = trace_ids.execution_trace(child)
    assert trace.trace_id == parent.trace_id
    assert trace.parent_span_id == parent.span_id
    assert trace.span_id == trace_ids.execution_span_id("00000000-0000-4000-8000-000000000001")


def test_traceparent_parsing_refuses_what_w3c_refuses() -> None:
    good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    parsed = trace_ids.parse_traceparent(good)
    assert parsed is not None and parsed.header() == good
    assert trace_ids.parse_traceparent(good.upper()) == parsed
    unsampled = trace_ids.parse_traceparent(good[:-2] + "00")
    assert unsampled is not None and not unsampled.sampled
    for bad in (
        None,
        "",
        "garbage",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    ):
        assert trace_ids.parse_traceparent(bad) is None
    # a malformed annotation is ignored: the execution starts a trace of its own
    odd = {"metadata": {"name": "x", "uid": UID, "annotations": {labels.TRACEPARENT: "nope"}}}
    assert trace_ids.execution_trace(odd).parent_span_id is None
