"""Not collected by the suite: run by test_interrupt.py in a child pytest, then interrupted."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kontinue_testkit.pytest_plugin import TestCluster


def test_waits_to_be_interrupted(kube_cluster: TestCluster) -> None:
    Path(os.environ["KONTINUE_TEST_READY_FILE"]).write_text(str(kube_cluster.cluster.workdir))
    time.sleep(120)
