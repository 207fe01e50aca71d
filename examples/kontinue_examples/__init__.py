"""Example workflows shipped with kontinue (served by ``make dev``'s worker)."""
