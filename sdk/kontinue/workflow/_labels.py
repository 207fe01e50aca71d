"""Search labels a workflow sets on its own execution while it runs."""

from __future__ import annotations

from collections.abc import Mapping

from kontinue.api import workflow_labels
from kontinue.engine.context import ExecutionContext


def set_labels(ktx: ExecutionContext, labels: Mapping[str, str | None]) -> None:
    """Set search labels on this execution, e.g. ``{"customer": "acme"}``.

    ``kontinue list -l customer=acme`` and the UI's label filter then find the execution. The
    labels are merged into those set before (a later value replaces an earlier one; None
    removes a label the workflow set) and written with the execution's next checkpoint (a
    stored step, a message, a release, or the attempt's end): no API write of their own. A
    replay that sets the same labels again writes nothing. They are kept in
    ``status.labels``: the worker writes only the status, never the metadata.

    Keys and values follow Kubernetes label syntax; at most 32 labels; the ``kontinue.cloud/``
    prefix is reserved.

    Raises:
        ValidationError: a key or value is not label syntax, a key is reserved, or too many.
    """
    ktx.check_canceled()
    ktx.journal.set_labels(workflow_labels.validate(labels))
