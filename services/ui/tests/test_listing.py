from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kontinue_ui import listing, selectors
from kontinue_ui.cache import Summary

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def summary(i: int, phase: str = "Completed", function: str = "f", **labels: str) -> Summary:
    return Summary(
        namespace="ns",
        name=f"run-{i:04d}",
        function=function,
        phase=phase,
        message=f"message {i}",
        progress=None,
        created=T0 + timedelta(seconds=i),
        started=T0 + timedelta(seconds=i),
        finished=T0 + timedelta(seconds=i + i % 7),
        labels=labels,
        parent=labels.get("kontinue.cloud/parent"),
        resource_version=str(i),
    )


ROWS = [
    summary(i, ("Completed", "Failed", "Executing")[i % 3], ("a", "b")[i % 2]) for i in range(250)
]


def test_filters_count_phases_over_the_other_filters() -> None:
    page = listing.run(ROWS, listing.Query(function="a", phase="Failed"), page_size=50)
    assert all(r.function == "a" and r.phase == "Failed" for r in page.rows)
    assert page.total == sum(1 for r in ROWS if r.function == "a" and r.phase == "Failed")
    assert sum(page.counts.values()) == 125  # every phase of function a


def test_newest_first_and_pages() -> None:
    first = listing.run(ROWS, listing.Query(), page_size=100)
    assert [r.name for r in first.rows[:2]] == ["run-0249", "run-0248"]
    assert (first.page, first.pages, first.total) == (1, 3, 250)
    last = listing.run(ROWS, listing.Query(page=3), page_size=100)
    assert len(last.rows) == 50 and last.rows[-1].name == "run-0000"
    beyond = listing.run(ROWS, listing.Query(page=99), page_size=100)
    assert beyond.page == 3


def test_sort_by_duration_ascending() -> None:
    page = listing.run(ROWS, listing.Query(sort="duration", descending=False), page_size=300)
    durations = [listing.duration_seconds(r) or 0.0 for r in page.rows]
    assert durations == sorted(durations)


def test_text_and_label_filters() -> None:
    rows = [summary(1, team="x"), summary(2, team="y"), summary(3)]
    assert [r.name for r in listing.run(rows, listing.Query(label="team=x"), 10).rows] == [
        "run-0001"
    ]
    assert len(listing.run(rows, listing.Query(label="team"), 10).rows) == 2
    assert len(listing.run(rows, listing.Query(label="!team"), 10).rows) == 1
    assert len(listing.run(rows, listing.Query(label="team in (x, y)"), 10).rows) == 2
    assert len(listing.run(rows, listing.Query(label="team!=x"), 10).rows) == 2
    assert [r.name for r in listing.run(rows, listing.Query(text="MESSAGE 2"), 10).rows] == [
        "run-0002"
    ]


def test_a_bad_selector_is_an_error() -> None:
    with pytest.raises(selectors.SelectorError):
        listing.run(ROWS, listing.Query(label="a=b=c"), 10)


def test_token_changes_with_what_the_page_shows() -> None:
    before = listing.run(ROWS, listing.Query(), 50).token
    assert listing.run(ROWS, listing.Query(), 50).token == before
    changed = [*ROWS[:-1], summary(249, "Canceled")]
    assert listing.run(changed, listing.Query(), 50).token != before
    # a change outside the page but inside the counts also changes it
    changed = [summary(0, "Canceled"), *ROWS[1:]]
    assert listing.run(changed, listing.Query(), 50).token != before


def test_query_round_trips_through_parameters() -> None:
    query = listing.Query.from_args(
        {"phase": "Failed", "sort": "name", "order": "asc", "page": "3"}
    )
    assert listing.Query.from_args(query.params()) == query
    assert listing.Query.from_args({"sort": "nonsense", "page": "x"}) == listing.Query()
