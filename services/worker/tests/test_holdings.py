"""A claim lets go only of what it took: a later claim of the same execution stays held."""

from __future__ import annotations

from dataclasses import dataclass

from kontinue_worker.holdings import Holdings

KEY = ("default", "deploy")


@dataclass
class Journal:
    claim: int


def test_a_claim_taken_back_before_the_previous_attempt_unwound_stays_held() -> None:
    holdings: Holdings[Journal] = Holdings()
    holdings.take(KEY, 1)
    first = Journal(1)
    holdings.run(KEY, first)
    # released past the hold, woken, and claimed back by this process (claim 2) while the
    # thread of claim 1 is still unwinding
    holdings.take(KEY, 2)
    second = Journal(2)
    holdings.run(KEY, second)
    holdings.let_go(KEY, 1)  # claim 1's thread ends
    assert holdings.holds(KEY)  # the reconciler must not hand claim 2's run back
    assert holdings.journal(KEY) is second  # its events still reach the running journal
    holdings.let_go(KEY, 2)
    assert not holdings.holds(KEY)
    assert holdings.journal(KEY) is None
    assert holdings.journals() == []


def test_a_failed_claim_lets_go_of_its_hold() -> None:
    holdings: Holdings[Journal] = Holdings()
    holdings.take(KEY, 3)
    assert holdings.holds(KEY)
    holdings.let_go(KEY, 3)
    assert not holdings.holds(KEY)


def test_a_stale_claim_never_replaces_a_later_one() -> None:
    holdings: Holdings[Journal] = Holdings()
    holdings.take(KEY, 2)
    later = Journal(2)
    assert holdings.run(KEY, later)
    # claim 1's thread was still loading its journal when claim 2 took over and registered
    holdings.take(KEY, 1)
    assert not holdings.run(KEY, Journal(1))
    assert holdings.journal(KEY) is later
    holdings.let_go(KEY, 1)
    assert holdings.holds(KEY)
    assert holdings.journals() == [later]
