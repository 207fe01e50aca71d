from __future__ import annotations

from kontinue.api import names


def test_child_names_of_different_parents_and_steps_never_collide() -> None:
    assert names.child_name("a", "b-c") != names.child_name("a-b", "c")
    assert names.child_name("a", "b-c") == "a--b-c"
    assert names.child_name("a-b", "c") == "a-b--c"
    # a step name never contains the separator, so the last "--" always splits the two
    assert not names.is_step_name("b--c")
    assert names.is_step_name("b-c")
    long_parent = "p" * 60
    assert names.child_name(long_parent, "x-1") != names.child_name(long_parent + "-x", "1")
    assert len(names.child_name(long_parent, "approval")) <= 63
