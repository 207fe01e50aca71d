from __future__ import annotations

from kontinue.api.phases import SuspensionPhase, suspension_phase


def test_a_suspension_without_a_status_is_waiting() -> None:
    assert suspension_phase({"metadata": {"name": "s"}}) == SuspensionPhase.SUSPENDED
    assert suspension_phase({"status": {}}) == SuspensionPhase.SUSPENDED
    assert suspension_phase({"status": {"phase": "Completed"}}) == SuspensionPhase.COMPLETED
    assert f"{suspension_phase({'status': {'phase': 'Canceled'}})}" == "Canceled"
