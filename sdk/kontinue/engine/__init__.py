"""The replay engine under the workflow API: what a worker (or a test) runs a workflow with.

Workflow authors write against :mod:`kontinue` / :mod:`kontinue.workflow`; this package is for
whoever runs their functions:

- :mod:`kontinue.engine.records`: the records of an execution's history (steps, children,
  suspensions, Jobs, progress);
- :mod:`kontinue.engine.journal`: the :class:`~kontinue.engine.journal.Journal` protocol, the one
  seam between the engine and storage;
- :mod:`kontinue.engine.context`: :class:`~kontinue.engine.context.ExecutionContext`, step
  naming and the replay's determinism checks;
- :mod:`kontinue.engine.observer`: the seam through which a worker watches steps;
- :mod:`kontinue.engine.registry`: registered workflow functions;
- :mod:`kontinue.engine.run`: one attempt of a function against a journal;
- :mod:`kontinue.engine.outcomes`: how an attempt ended, and the status that leads to.
"""
