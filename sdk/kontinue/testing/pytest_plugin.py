"""The ``workflow_env`` pytest fixture: a fresh :class:`WorkflowEnvironment` for each test.

Installed with the ``kontinue`` package as a pytest plugin (the ``pytest11`` entry point), so a
test only names the fixture::

    def test_greets(workflow_env):
        assert workflow_env.execute("hello-world", {"name": "Ann"}) == "Hello, Ann!"

The environment runs the functions of the default registry (every ``@kontinue.function``
imported). The ``kontinue_env`` marker passes keyword arguments to the environment::

    @pytest.mark.kontinue_env(modules=["myteam.workflows"], registry=my_registry,
                              start=datetime(2030, 1, 1, tzinfo=UTC), job_handler=handler)
    def test_nightly(workflow_env): ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kontinue.testing.environment import WorkflowEnvironment


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``kontinue_env`` marker (strict markers know it)."""
    config.addinivalue_line(
        "markers",
        "kontinue_env(**options): keyword arguments of the workflow_env fixture's "
        "WorkflowEnvironment (registry, modules, start, namespace, job_handler)",
    )


@pytest.fixture
def workflow_env(request: pytest.FixtureRequest) -> Iterator[WorkflowEnvironment]:
    """A fresh in-process, time-skipping :class:`WorkflowEnvironment`."""
    marker = request.node.get_closest_marker("kontinue_env")
    options = dict(marker.kwargs) if marker is not None else {}
    yield WorkflowEnvironment(**options)
