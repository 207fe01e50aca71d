"""The fault campaign (see ``campaign.py``): short profile by default, the long one on demand.

``make test-reliability`` (and ``make test``) run the short profile; ``make reliability-long``
sets ``KONTINUE_RELIABILITY_PROFILE=long``. Either ends with one summary line; the details
(every fault, every finding, the components' logs) are kept in ``test-artifacts/reliability``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from campaign import FAULTS, LONG, SHORT, Campaign, new_workdir

ROOT = Path(__file__).resolve().parents[2]
PROFILES = {"short": SHORT, "long": LONG}


@pytest.mark.timeout(6 * 3600)
def test_campaign(capsys: pytest.CaptureFixture[str]) -> None:
    profile = PROFILES[os.environ.get("KONTINUE_RELIABILITY_PROFILE", "short")]
    workdir = new_workdir()
    campaign = Campaign(profile, workdir)
    artifacts = ROOT / "test-artifacts" / "reliability"
    try:
        campaign.start()
        summary = campaign.run()
        bad = campaign.bad_problems
    finally:
        campaign.close()
        if artifacts.exists():
            shutil.rmtree(artifacts)
        shutil.copytree(workdir, artifacts, ignore=shutil.ignore_patterns("cluster", "ledger"))
        shutil.copytree(workdir / "cluster" / "logs", artifacts / "cluster-logs")
    report = "\n".join(
        [
            f"profile {profile.name}: faults by type {dict(sorted(summary.fault_types.items()))}",
            f"mismatched={summary.mismatched} bad-input problems={len(bad)}",
            *summary.details[:50],
            *bad[:20],
            summary.line(),
        ]
    )
    (artifacts / "summary.txt").write_text(report + "\n")
    with capsys.disabled():
        print("\n" + report)
    assert summary.executions >= profile.executions
    assert set(summary.fault_types) == set(FAULTS), "a fault type was never injected"
    assert (summary.lost, summary.wedged, summary.duplicated, summary.crashes) == (0, 0, 0, 0), (
        summary.line()
    )
    assert summary.mismatched == 0, summary.details
    assert not bad, bad[:10]
    assert summary.invalid_inputs >= profile.bad_inputs // 2
