from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, cast

from kontinue.api import worker_versions
from kontinue.client import kubeapi
from kontinue_worker import leasing


def keeper(
    version: str, upgrade_from: frozenset[str] = frozenset(), drain: bool = False
) -> leasing.LeaseKeeper:
    return leasing.LeaseKeeper(
        cast(kubeapi.Kube, None), ["ns"], worker="pod", identity="pod-1", group="default",
        functions=["f"], duration=15, stop=threading.Event(),
        versions=worker_versions.Claims(version, upgrade_from, drain),
    )  # fmt: skip


def manifest(k: leasing.LeaseKeeper) -> dict[str, Any]:
    return k._manifest(datetime.now(UTC))  # noqa: SLF001 - what the Lease says


def test_a_lease_says_which_versions_its_worker_claims() -> None:
    pinned = manifest(keeper("v1"))
    assert pinned["metadata"]["annotations"][leasing.VERSION_ANNOTATION] == "v1"
    assert leasing.UPGRADE_ANNOTATION not in pinned["metadata"]["annotations"]
    assert leasing.claims(pinned, "v1")
    assert not leasing.claims(pinned, "v0")
    upgrading = manifest(keeper("v2", frozenset({"v1", "v0"})))
    assert upgrading["metadata"]["annotations"][leasing.UPGRADE_ANNOTATION] == "v0,v1"
    assert leasing.claims(upgrading, "v0") and leasing.claims(upgrading, "v2")
    assert not leasing.claims(upgrading, "v9")


def test_a_lease_without_a_version_claims_any() -> None:
    assert leasing.claims({"metadata": {"annotations": {}}}, "v1")


def test_a_draining_worker_s_lease_says_it_takes_no_new_work() -> None:
    draining = manifest(keeper("v1", drain=True))
    assert draining["metadata"]["annotations"][leasing.DRAIN_ANNOTATION] == "true"
    assert not leasing.claims(draining, None, started=False)
    assert leasing.claims(draining, "v1")
    assert leasing.claims(manifest(keeper("v1")), None, started=False)
