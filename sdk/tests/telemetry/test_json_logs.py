from __future__ import annotations

import json
import logging

from opentelemetry import trace

from kontinue.telemetry import json_logs, tracing


def _record(message: str, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("bad")
        except ValueError as error:
            info = (type(error), error, error.__traceback__)
    return logging.LogRecord("kontinue.test", logging.INFO, __file__, 1, message, (), info)


def test_a_log_line_carries_the_execution_and_the_current_span() -> None:
    formatter = json_logs.JsonLogFormatter()
    plain = json.loads(formatter.format(_record("hello")))
    assert plain["message"] == "hello" and plain["level"] == "INFO"
    assert "trace_id" not in plain and "execution" not in plain
    context = tracing.parent_context(0x1234, 0xABCD)
    with json_logs.execution_scope("ns", "run-1", "deploy"), tracing.current(context):
        assert trace.get_current_span().get_span_context().trace_id == 0x1234
        entry = json.loads(formatter.format(_record("step done", exc=True)))
    assert entry["trace_id"] == f"{0x1234:032x}"
    assert entry["span_id"] == f"{0xABCD:016x}"
    assert (entry["namespace"], entry["execution"], entry["function"]) == ("ns", "run-1", "deploy")
    assert "ValueError: bad" in entry["exception"]
    after = json.loads(formatter.format(_record("later")))
    assert "execution" not in after and "trace_id" not in after
