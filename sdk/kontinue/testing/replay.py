"""Replaying exported histories against today's code, offline: is a change safe to deploy?

``kontinue export NAME -o history.json`` writes an execution's complete history;
:func:`replay` runs a workflow function against it with a journal that holds only that history
(:class:`HistoryJournal`): every recorded step returns its recorded result, nothing is created
or written, and the replay stops at the first step the history does not have. The engine's
determinism check names the first step whose name, type or position differs. ::

    from kontinue.testing import replay

    result = replay("histories/order-42.json", process_order)
    assert result.compatible, result.message

:func:`replay_folder` replays every history of a folder (a regression suite of real
executions); :func:`histories` lists them for ``pytest.mark.parametrize``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kontinue import errors
from kontinue.api import history as history_format
from kontinue.api.history import History, HistoryError
from kontinue.api.phases import Phase
from kontinue.engine.context import ExecutionContext
from kontinue.engine.registry import FunctionDef, FunctionRegistry, default_registry
from kontinue.engine.run import run_in_context
from kontinue.testing._history_journal import EndOfHistory, HistoryJournal

__all__ = [
    "EndOfHistory",
    "HistoryError",
    "HistoryJournal",
    "ReplayResult",
    "histories",
    "replay",
    "replay_folder",
]

_FAILED_PHASES = {Phase.FAILED.value, Phase.BACKOFF.value}


@dataclass(frozen=True)
class ReplayResult:
    """How a replay of one history went."""

    execution: str
    function: str
    outcome: str
    """``completed``, ``failed``, ``canceled``, ``waiting`` (the history ends while the
    execution waits) or ``past-history`` (the code goes on past the last recorded step)."""
    replayed: int
    """Step positions the code reached that the history records."""
    recorded: int
    """Steps the history records."""
    compatible: bool
    """The code follows the history: no step differs, none is left out, no new failure."""
    message: str
    error: BaseException | None = None
    """What made the replay incompatible (a NondeterminismError, or the code's own error)."""
    source: str = ""

    def check(self) -> None:
        """Raise an AssertionError with the message unless the replay is compatible."""
        if not self.compatible:
            raise AssertionError(f"{self.source or self.execution}: {self.message}")


def _definition(
    function: FunctionDef | Callable[..., Any] | str | None,
    history: History,
    registry: FunctionRegistry | None,
) -> FunctionDef:
    if isinstance(function, FunctionDef):
        return function
    if callable(function):
        definition = getattr(function, "__kontinue_function__", None)
        if not isinstance(definition, FunctionDef):
            raise errors.ValidationError(
                f"{getattr(function, '__name__', function)!r} is not a @kontinue.function"
            )
        return definition
    name = function or history.function
    found = (registry if registry is not None else default_registry).get(name)
    if found is None:
        known = ", ".join((registry if registry is not None else default_registry).names())
        raise errors.ValidationError(
            f"no function {name!r} is registered (known: {known or 'none'})"
        )
    return found


def _history(source: History | Mapping[str, Any] | str | Path) -> tuple[History, str]:
    if isinstance(source, History):
        return source, source.name
    if isinstance(source, str | Path):
        return history_format.load(source), str(source)
    return history_format.parse(source), "the history"


def _unreached(journal: HistoryJournal, position: int) -> str | None:
    steps = journal.steps().values()
    later = sorted((r for r in steps if r.index >= position), key=lambda r: r.index)
    if not later:
        return None
    first = later[0]
    return f"step {first.name!r} ({first.type}) at position #{first.index}"


def replay(
    history: History | Mapping[str, Any] | str | Path,
    function: FunctionDef | Callable[..., Any] | str | None = None,
    *,
    registry: FunctionRegistry | None = None,
    logger: logging.Logger | None = None,
) -> ReplayResult:
    """Run today's code of a workflow function against a recorded history, with no side effect.

    Args:
        history: a history file's path, its parsed document, or a :class:`History`.
        function: the ``@kontinue.function`` to replay, its definition, or its name in
            ``registry`` (default: the name the history's execution ran).
        registry: where to look a name up (default: the default registry).
        logger: the workflow's logger during the replay.

    Returns:
        The result; ``compatible`` is false when a step differs from the history
        (:class:`~kontinue.errors.NondeterminismError`), when the code finishes while the
        history records further steps, or when it fails where the recorded execution did not.

    Raises:
        HistoryError: the history cannot be read or is not valid.
        ValidationError: the function is unknown.
    """
    parsed, source = _history(history)
    definition = _definition(function, parsed, registry)
    journal = HistoryJournal(parsed)
    ktx = ExecutionContext(
        journal, hold=0.0, logger=logger or logging.getLogger("kontinue.replay"), observer=journal
    )
    outcome = run_in_context(definition, ktx)
    recorded = len(journal.steps())

    def done(
        kind: str, replayed: int, compatible: bool, message: str, error: BaseException | None = None
    ) -> ReplayResult:
        return ReplayResult(
            execution=parsed.name, function=definition.name, outcome=kind, replayed=replayed,
            recorded=recorded, compatible=compatible, message=message, error=error, source=source,
        )  # fmt: skip

    position = ktx.position
    status = parsed.execution.get("status") or {}
    if outcome.kind == "released" and journal.end is not None:
        at = journal.steps().get(journal.end.step)
        if at is None:
            replayed = max(position - 1, 0)
            return done("past-history", replayed, True, f"replayed {replayed} steps, the code "
                        f"goes on past the history ({journal.end.message})")  # fmt: skip
        return done("past-history", at.index, True, f"replayed {at.index} steps; {journal.end}")
    if outcome.kind == "released":
        return done("waiting", position, True, f"replayed {position} steps; the history ends "
                    f"while the execution is {outcome.message}")  # fmt: skip
    if isinstance(outcome.error, errors.NondeterminismError):
        return done("failed", max(position - 1, 0), False, str(outcome.error), outcome.error)
    unreached = _unreached(journal, position)
    if unreached is not None and outcome.kind in ("completed", "failed"):
        ended = "returned" if outcome.kind == "completed" else "failed"
        error = errors.NondeterminismError(
            f"the code {ended} after {position} steps, but the history records {unreached}: "
            "the workflow is not deterministic between steps"
        )
        return done(outcome.kind, position, False, str(error), error)
    if outcome.kind == "failed":
        assert outcome.error is not None
        what = f"{type(outcome.error).__name__}: {outcome.error}"
        if status.get("phase") in _FAILED_PHASES:
            return done("failed", position, True, f"replayed {position} steps; the code fails "
                        f"as the recorded execution did ({what})")  # fmt: skip
        message = f"replayed {position} steps, then the code failed where the recorded "
        return done("failed", position, False, f"{message}execution went on: {what}", outcome.error)
    if outcome.kind == "canceled":
        return done("canceled", position, True, f"replayed {position} steps; the execution "
                    f"was canceled ({outcome.message})")  # fmt: skip
    message = f"replayed {position} steps; the code returns"
    if status.get("phase") == Phase.COMPLETED.value:
        same = status.get("result") == outcome.result
        message += (
            " the recorded result" if same else " another result than the recorded one "
            "(results are not part of the replay check)"
        )  # fmt: skip
    return done("completed", position, True, message)


def histories(folder: str | Path) -> list[Path]:
    """The history files (``*.json``) of a folder, sorted: for ``pytest.mark.parametrize``.

    Raises:
        HistoryError: the folder does not exist.
    """
    path = Path(folder)
    if not path.is_dir():
        raise HistoryError(f"{path} is not a folder of histories")
    return sorted(p for p in path.glob("*.json") if p.is_file())


def replay_folder(
    folder: str | Path,
    registry: FunctionRegistry | None = None,
    *,
    functions: Mapping[str, FunctionDef | Callable[..., Any]] | None = None,
) -> list[ReplayResult]:
    """Replay every history of a folder against the functions registered today.

    Each history is replayed with the function its execution ran, looked up in ``functions``
    (by name) or else in ``registry`` (default: the default registry).

    Raises:
        AssertionError: listing every history the code is not compatible with.
        HistoryError: a file is not a valid history, or the folder holds none.
    """
    files = histories(folder)
    if not files:
        raise HistoryError(f"{folder} holds no history (*.json)")
    results = []
    for file in files:
        parsed = history_format.load(file)
        chosen = (functions or {}).get(parsed.function)
        results.append(replay(parsed, chosen, registry=registry) if chosen else
                       replay(parsed, None, registry=registry))  # fmt: skip
        results[-1] = _with_source(results[-1], str(file))
    bad = [r for r in results if not r.compatible]
    if bad:
        raise AssertionError(
            f"{len(bad)} of {len(results)} histories do not replay:\n"
            + "\n".join(f"  {r.source}: {r.message}" for r in bad)
        )
    return results


def _with_source(result: ReplayResult, source: str) -> ReplayResult:
    return ReplayResult(**{**result.__dict__, "source": source})
