"""Every example workflow: ``kontinue-worker --module kontinue_examples.all``."""

from kontinue_examples import deploy_pipeline, fan_out, hello_world, nightly_report

__all__ = ["deploy_pipeline", "fan_out", "hello_world", "nightly_report"]
