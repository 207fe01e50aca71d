"""Metrics and tracing helpers shared by the kontinue services (controller, worker, UI).

- :mod:`kontinue.telemetry.trace_ids`: the deterministic trace and span ids of executions and
  the ``traceparent`` annotation a child carries (pure Python);
- :mod:`kontinue.telemetry.metrics_server`: ``/metrics`` on ``--metrics-port`` and gunicorn's
  multi-process mode;
- :mod:`kontinue.telemetry.api_errors`: the API request error counter every service exports;
- :mod:`kontinue.telemetry.tracing`: the OpenTelemetry tracer, its exporter chosen by the
  standard ``OTEL_*`` variables, and spans with fixed ids;
- :mod:`kontinue.telemetry.jsonl_exporter`: finished spans as JSON lines in a file;
- :mod:`kontinue.telemetry.json_logs`: structured JSON logs with trace and execution ids.

Everything but ``trace_ids`` needs the sdk's ``telemetry`` extra
(``pip install 'kontinue[telemetry]'``), which the services depend on. The metric and span
reference is docs/observability.md.
"""
