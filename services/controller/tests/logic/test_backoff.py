from __future__ import annotations

import pytest

from kontinue_controller.logic.backoff import retry_pause


@pytest.mark.parametrize(
    ("failures", "pause"),
    [
        (0, 0.5),  # never asked for, but no shorter than the first pause
        (1, 0.5),
        (2, 1.0),
        (3, 2.0),
        (4, 4.0),
        (5, 8.0),
        (6, 16.0),
        (7, 30.0),  # 32 s capped
        (8, 30.0),
        (1000, 30.0),  # no overflow however long the trouble lasts
    ],
)
def test_the_retry_pause_doubles_up_to_thirty_seconds(failures: int, pause: float) -> None:
    assert retry_pause(failures) == pause
