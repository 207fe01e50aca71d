"""The ``kontinue`` command line (``kubectl kontinue`` as a kubectl plugin)."""

from kontinue.cli._app import cli, main

__all__ = ["cli", "main"]
